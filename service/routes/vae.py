"""Routes for vae: being filled by the vae integration (see issues 5–7)."""

from __future__ import annotations

from fastapi import APIRouter

router = APIRouter(prefix="/v1/collections/{name}", tags=["vae"])
