"""The map page (`GET /ui`): being filled by the maps integration (issue 6)."""

from __future__ import annotations

from fastapi import APIRouter

router = APIRouter(tags=["ui"])
