"""Annotated dependencies: what routes get from app state (settings, store, encoder, jobs) and from the path.

Also the two small helpers every route shares: `start_job` (the one way a route submits a long run) and
`require_scope` (a scope that depends on the body, e.g. `save: true` needs `write`).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Annotated, Any

from fastapi import Depends, Query, Request

from latent.auth import check_scope
from latent.config import Settings
from latent.embedder.base import Encoder
from latent.errors import InvalidInput
from latent.jobs import JobContext, JobManager
from latent.store.collection import Collection
from latent.store.store import Store
from service.schemas.jobs import JobPublic


async def get_settings(request: Request) -> Settings:
    return request.app.state.settings


async def get_store(request: Request) -> Store:
    return request.app.state.store


async def get_encoder(request: Request) -> Encoder:
    return request.app.state.encoder


async def get_jobs(request: Request) -> JobManager:
    return request.app.state.jobs


SettingsDep = Annotated[Settings, Depends(get_settings)]
StoreDep = Annotated[Store, Depends(get_store)]
EncoderDep = Annotated[Encoder, Depends(get_encoder)]
JobsDep = Annotated[JobManager, Depends(get_jobs)]


def get_collection(name: str, store: StoreDep) -> Collection:
    """The collection in the path (404 collection_not_found); sync, so opening an index runs off the loop."""
    return store.collection(name)


CollectionDep = Annotated[Collection, Depends(get_collection)]


async def filter_param(
    filter: Annotated[str | None, Query(description='JSON metadata filter, e.g. {"year": {"$gte": 2020}}')] = None,
) -> dict[str, Any] | None:
    """A filter passed in a query string (GET routes) as JSON text."""
    if filter is None or not filter.strip():
        return None
    try:
        value = json.loads(filter)
    except json.JSONDecodeError as exc:
        raise InvalidInput(
            f"filter is not valid JSON: {exc.msg}", code="invalid_filter", details={"position": exc.pos}
        ) from None
    if not isinstance(value, dict):
        raise InvalidInput("a filter must be a JSON object", code="invalid_filter")
    return value


FilterDep = Annotated[dict[str, Any] | None, Depends(filter_param)]


def start_job(
    jobs: JobManager,
    kind: str,
    collection: Collection,
    params: dict[str, Any],
    run: Callable[[Collection, dict[str, Any], JobContext], int],
    result: str,
) -> JobPublic:
    """Submit `run(collection, params, ctx)` as a job of `kind`; its result is `{result: <the id it returns>}`.

    `params` were checked by the caller first, so bad input is a 4xx now rather than a failed job later.
    """

    def work(ctx: JobContext) -> dict[str, int]:
        return {result: run(collection, params, ctx)}

    record = jobs.submit(kind, work, {"collection": collection.name, **params}, collection_id=collection.id)
    return JobPublic.of(record)


def require_scope(request: Request, scope: str) -> None:
    """403 insufficient_scope unless the request's key (checked by the route's own scope) also has `scope`.

    For a scope that depends on the body: the route declares the lower scope, and this raises the
    same error the route's dependency would have. Open mode (no keys) lets everything through.
    """
    granted = getattr(request.state, "scope", None)
    if granted is not None:
        check_scope(granted, scope)
