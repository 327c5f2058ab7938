"""Place texts, stored documents or raw vectors on a map (existing points never move)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
from sqlalchemy import select

from latent.errors import DocumentNotFound, InvalidInput
from latent.maps.cache import load, map_lock
from latent.maps.runs import MapInfo, get_map, latest_map_id
from latent.store.collection import Collection
from latent.store.feature_models import MapPointRow
from latent.store.models import DocumentRow
from latent.vectors import as_vectors

__all__ = ["project_vectors", "project_texts", "project_ids"]


def project_vectors(collection: Collection, vectors: Any, map_id: int | None = None) -> np.ndarray | None:
    """2-D positions of vectors on a map (the newest when map_id is None); None when the collection has no map."""
    if map_id is None:
        map_id = latest_map_id(collection)
        if map_id is None:
            return None
    info = get_map(collection, map_id)
    return _project(info, as_vectors(vectors, collection.dimension, name="vectors", min_rows=0))


def _project(info: MapInfo, array: np.ndarray) -> np.ndarray:
    if not len(array):
        return np.zeros((0, 2), dtype=np.float32)
    with map_lock(info.id):
        return load(info.path).transform(array)


def project_texts(collection: Collection, texts: Sequence[str], map_id: int | None = None) -> np.ndarray | None:
    """Embed texts with the collection's query encoder and place them on the map."""
    if any(not isinstance(t, str) or not t.strip() for t in texts):
        raise InvalidInput("texts must be non-empty strings", code="empty_text")
    vectors = collection.query_encoder.encode(list(texts)) if texts else np.zeros((0, collection.dimension), np.float32)
    return project_vectors(collection, vectors, map_id)


def project_ids(collection: Collection, ids: Sequence[str], map_id: int | None = None) -> np.ndarray | None:
    """Stored documents' positions: their point when they are on the map, else placed with transform."""
    if map_id is None:
        map_id = latest_map_id(collection)
        if map_id is None:
            return None
    vectors = collection.document_vectors(list(ids))
    missing = [i for i in ids if i not in vectors]
    if missing:
        raise DocumentNotFound(missing, collection.name)
    with collection.sessions() as s:
        stored = {
            r[0]: (r[1], r[2])
            for r in s.execute(
                select(DocumentRow.external_id, MapPointRow.x, MapPointRow.y)
                .join(MapPointRow, MapPointRow.document_id == DocumentRow.id)
                .where(MapPointRow.map_id == map_id, DocumentRow.external_id.in_(list(ids)))
            ).all()
        }
    out = np.zeros((len(ids), 2), dtype=np.float32)
    rest = [i for i, ext in enumerate(ids) if ext not in stored]
    for i, ext in enumerate(ids):
        if ext in stored:
            out[i] = stored[ext]
    if rest:
        out[rest] = _project(get_map(collection, map_id), np.vstack([vectors[ids[i]] for i in rest]))
    return out
