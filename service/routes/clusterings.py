"""Routes for clusterings: being filled by the clusterings integration (see issues 5–7)."""

from __future__ import annotations

from fastapi import APIRouter

router = APIRouter(prefix="/v1/collections/{name}", tags=["clusterings"])
