"""Liveness, readiness and Prometheus metrics (outside /v1: infrastructure, not API)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request, Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from sqlalchemy import text

from service.auth import Read
from service.deps import StoreDep
from service.errors import error_response

router = APIRouter(prefix="", tags=["health"])


@router.get("/healthz", name="healthz")
async def healthz() -> dict[str, str]:
    """The process is up and answering (never touches the store or the model)."""
    return {"status": "ok"}


@router.get("/readyz", name="readyz", responses={503: {"description": "Store or model not ready"}})
def readyz(request: Request, store: StoreDep) -> Any:
    """Ready to serve: the store answers a query and the default model is loaded."""
    encoder = getattr(request.app.state, "encoder", None)
    try:
        with store.engine.connect() as conn:
            conn.execute(text("SELECT 1"))
    except Exception as exc:  # a broken database is exactly what this endpoint reports
        return error_response(503, "not_ready", f"store unavailable: {exc.__class__.__name__}")
    if encoder is None:
        return error_response(503, "not_ready", "model not loaded")
    return {"status": "ready", "model": encoder.model_name, "dimension": encoder.dimension}


@router.get(
    "/metrics",
    name="metrics",
    dependencies=[Read],
    response_class=Response,
    responses={200: {"content": {CONTENT_TYPE_LATEST: {}}, "description": "Prometheus text format"}},
)
def metrics(request: Request) -> Response:
    """Prometheus text: request counts and latency by route, documents and vectors per collection."""
    return Response(generate_latest(request.app.state.metrics.registry), media_type=CONTENT_TYPE_LATEST)
