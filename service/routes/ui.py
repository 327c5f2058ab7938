"""The map page (`GET /ui`): one self-contained HTML file that talks only to the public /v1 API."""

from __future__ import annotations

from pathlib import Path

from fastapi import APIRouter
from fastapi.responses import FileResponse

from latent.errors import NotFound

router = APIRouter(tags=["ui"])
STATIC = Path(__file__).resolve().parent.parent / "static"


@router.get("/ui", name="page", include_in_schema=False)
def ui_page() -> FileResponse:
    """The interactive map (scatter plot, clusters, search highlights); `?collection=…&map=…&key=…`."""
    return FileResponse(STATIC / "ui.html", media_type="text/html", headers={"Cache-Control": "no-cache"})


@router.get("/ui/static/{filename}", name="asset", include_in_schema=False)
def ui_asset(filename: str) -> FileResponse:
    """Any vendored asset beside the page (the page needs none today); names only, no paths."""
    path = STATIC / filename
    if "/" in filename or filename.startswith(".") or not path.is_file():
        raise NotFound(f"no UI asset {filename!r}", details={"file": filename})
    return FileResponse(path)
