"""A collection's trained VAEs: their rows, the newest or a named one loaded (and cached) from its checkpoint."""

from __future__ import annotations

import threading
from collections import OrderedDict
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import select

from latent.errors import Conflict, InvalidInput, NotFound
from latent.store.collection import Collection
from latent.store.feature_models import VaeModelRow

if TYPE_CHECKING:
    from latent.vae import TextVAE

__all__ = ["VaeModelInfo", "list_models", "load_model", "remember", "info_of"]

_CACHE_SIZE = 8
_cache: OrderedDict[str, TextVAE] = OrderedDict()  # by checkpoint path: unique per model
_cache_lock = threading.Lock()


@dataclass(slots=True)
class VaeModelInfo:
    id: int
    params: dict[str, Any]
    metrics: dict[str, Any]
    path: str
    created_at: datetime


def list_models(collection: Collection) -> list[VaeModelInfo]:
    """The collection's trained models, newest first."""
    with collection.sessions() as s:
        rows = s.scalars(
            select(VaeModelRow).where(VaeModelRow.collection_id == collection.id).order_by(VaeModelRow.id.desc())
        ).all()
        return [info_of(r) for r in rows]


def load_model(collection: Collection, model: int | str | None = None) -> tuple[VaeModelInfo, TextVAE]:
    """The named model (by id) or the newest; 409 vae_not_trained with how to train when there is none."""
    from latent.vae import TextVAE

    with collection.sessions() as s:
        stmt = select(VaeModelRow).where(VaeModelRow.collection_id == collection.id)
        if model is None:
            row = s.scalars(stmt.order_by(VaeModelRow.id.desc()).limit(1)).first()
            if row is None:
                raise Conflict(
                    f"collection {collection.name!r} has no trained VAE yet: train one with "
                    f"POST /v1/collections/{collection.name}/vae or "
                    f"`latent train-vae --collection {collection.name}`",
                    code="vae_not_trained",
                    details={"collection": collection.name},
                )
        else:
            try:
                model_id = int(model)
            except (TypeError, ValueError):
                raise InvalidInput(f"model must be a model id, got {model!r}", details={"model": model}) from None
            row = s.scalars(stmt.where(VaeModelRow.id == model_id)).first()
            if row is None:
                raise NotFound(
                    f"VAE model {model_id} does not exist in collection {collection.name!r}",
                    code="vae_model_not_found",
                    details={"model": model_id, "collection": collection.name},
                )
        info = info_of(row)
    with _cache_lock:
        cached = _cache.get(info.path)
        if cached is not None:
            _cache.move_to_end(info.path)
            return info, cached
    loaded = TextVAE.load(info.path)
    remember(info.path, loaded)
    return info, loaded


def remember(path: str, model: TextVAE) -> None:
    with _cache_lock:
        _cache[path] = model
        _cache.move_to_end(path)
        while len(_cache) > _CACHE_SIZE:
            _cache.popitem(last=False)


def info_of(row: VaeModelRow) -> VaeModelInfo:
    return VaeModelInfo(
        id=row.id,
        params=dict(row.params or {}),
        metrics=dict(row.metrics or {}),
        path=row.path,
        created_at=row.created_at,
    )
