"""Annotated dependencies: what routes get from app state (settings, store, encoder) and from the path."""

from __future__ import annotations

import json
from typing import Annotated, Any

from fastapi import Depends, Query, Request

from latent.config import Settings
from latent.embedder.base import Encoder
from latent.errors import InvalidInput
from latent.store.collection import Collection
from latent.store.store import Store


async def get_settings(request: Request) -> Settings:
    return request.app.state.settings


async def get_store(request: Request) -> Store:
    return request.app.state.store


async def get_encoder(request: Request) -> Encoder:
    return request.app.state.encoder


SettingsDep = Annotated[Settings, Depends(get_settings)]
StoreDep = Annotated[Store, Depends(get_store)]
EncoderDep = Annotated[Encoder, Depends(get_encoder)]


def get_collection(name: str, store: StoreDep) -> Collection:
    """The collection in the path (404 collection_not_found); sync, so opening an index runs off the loop."""
    return store.collection(name)


CollectionDep = Annotated[Collection, Depends(get_collection)]


async def filter_param(
    filter: Annotated[
        str | None, Query(description='JSON metadata filter, e.g. {"year": {"$gte": 2020}}')
    ] = None,
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
