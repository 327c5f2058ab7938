"""The FastAPI app: `create_app(settings)`; the lifespan opens the store and the default model."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI
from fastapi.routing import APIRoute
from starlette.concurrency import run_in_threadpool

import latent
from latent.auth import ApiKeys
from latent.bootstrap import NO_AUTH_WARNING, bootstrap_admin_key
from latent.config import Settings, get_settings
from latent.jobs import JobManager
from latent.store.store import Store
from service.errors import install_error_handlers
from service.metrics import Metrics, MetricsMiddleware
from service.middleware import RequestContextMiddleware
from service.ratelimit import RateLimitMiddleware
from service.routes import (
    aliases,
    clusterings,
    collections,
    documents,
    embed,
    health,
    jobs,
    maps,
    openai_embeddings,
    profiles,
    recommend,
    search,
    ui,
    vae,
)
from service.schemas.common import ERROR_RESPONSES

log = logging.getLogger("latent.service")


def _operation_id(route: APIRoute) -> str:
    return f"{route.tags[0]}-{route.name}" if route.tags else route.name


@asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[None]:
    settings: Settings = app.state.settings
    # NumPy's BLAS spin-waits like FAISS's OpenMP on a busy machine (a 600×384 product: 16 ms vs 0.19 ms
    # with one thread); requests already run in parallel, so each BLAS call gets few threads.
    from threadpoolctl import threadpool_limits

    threadpool_limits(settings.faiss_threads, user_api="blas")
    store = await run_in_threadpool(Store, settings)
    try:
        encoder = await run_in_threadpool(store.encoder)
        await run_in_threadpool(encoder.encode, ["warm up"])  # first call pays lazy init, not a user
        app.state.encoder = store.query_encoder()  # the same encoder behind the query cache and batcher
        await run_in_threadpool(bootstrap_admin_key, settings, store.sessions)  # LATENT_ADMIN_KEY(_FILE)
        app.state.keys = ApiKeys(store.sessions, cache_seconds=settings.auth_cache_seconds)
        app.state.store = store
        app.state.jobs = JobManager(store.sessions)
        app.state.metrics.store_collector.store = store
        if not await run_in_threadpool(app.state.keys.active):
            log.warning(
                NO_AUTH_WARNING.format(host=settings.host)
                if settings.allow_no_auth
                else "no API key exists, so every request is accepted: bind to 127.0.0.1 only "
                "(create one with `latent keys create --scope admin` before exposing the service)"
            )
        yield
    finally:
        if getattr(app.state, "jobs", None) is not None:
            await run_in_threadpool(app.state.jobs.shutdown)
        app.state.metrics.store_collector.store = None
        await run_in_threadpool(store.close)


def create_app(settings: Settings | None = None) -> FastAPI:
    """Build the app; nothing is opened until the lifespan starts (uvicorn or `with TestClient(app)`)."""
    settings = settings or get_settings()
    app = FastAPI(
        title="Latent",
        version=latent.__version__,
        summary="Semantic and hybrid search over your documents: FAISS vectors, SQL metadata.",
        lifespan=lifespan,
        generate_unique_id_function=_operation_id,
    )
    app.state.settings = settings
    app.state.metrics = Metrics()
    install_error_handlers(app)
    app.include_router(health.router)
    app.include_router(ui.router)
    for module in (collections, documents, search, embed, jobs, recommend, profiles, clusterings, maps, vae, aliases):
        app.include_router(module.router, responses=ERROR_RESPONSES)
    app.include_router(openai_embeddings.router)  # OpenAI's error shape, declared by the router itself
    # Added last = outermost: metrics see the final status of every request, 413s and 500s included.
    app.add_middleware(RateLimitMiddleware, rate=settings.rate_limit_per_second, burst=settings.rate_limit_burst)
    app.add_middleware(RequestContextMiddleware, max_body_bytes=settings.max_body_bytes)
    app.add_middleware(MetricsMiddleware, metrics=app.state.metrics)
    return app
