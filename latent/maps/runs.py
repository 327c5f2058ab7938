"""Maps of a collection: fit (or refit aligned) and store a 2-D layout, place later documents, project vectors."""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import numpy as np
from sqlalchemy import func, insert, select

from latent.clustering.model import Cancelled
from latent.errors import DimensionMismatch, DocumentNotFound, InvalidInput, NotFound
from latent.jobs import JobCancelled, JobContext
from latent.maps.model import MIN_POINTS, LatentMap
from latent.store.collection import Collection
from latent.store.feature_models import ClusterAssignmentRow, ClusteringRow, MapPointRow, MapRow
from latent.store.models import DocumentRow

__all__ = [
    "MapInfo", "MapPoint", "map_params", "fit_map", "list_maps", "get_map", "latest_map_id",
    "place_new_documents", "map_points", "project_vectors", "project_texts", "project_ids",
]

_LOCK = threading.Lock()
_MAP_LOCKS: dict[int, threading.Lock] = {}
_LOADED: dict[str, tuple[float, LatentMap]] = {}  # path -> (mtime, map): reducers are costly to unpickle
_MAX_LOADED = 4


@dataclass(slots=True)
class MapInfo:
    id: int
    created_at: datetime
    points: int
    clustering_id: int | None  # the map's clustering, or the collection's newest when it had none
    quality: dict[str, Any]
    params: dict[str, Any]
    alignment: dict[str, Any] | None
    path: str


@dataclass(slots=True)
class MapPoint:
    id: str
    x: float
    y: float
    cluster: int | None
    title: str


def map_params(
    collection: Collection,
    n_neighbors: int = 15,
    min_dist: float = 0.1,
    sample: int = 50_000,
    refit: bool = False,
    random_state: int = 42,
) -> dict[str, Any]:
    """Check a map request before any work starts (bad input is a 4xx, not a failed job)."""
    n = collection.count()
    if n < MIN_POINTS:
        raise InvalidInput(
            f"collection {collection.name!r} has {n} documents; a map needs at least {MIN_POINTS}",
            details={"documents": n, "min": MIN_POINTS},
        )
    if n_neighbors < 2:
        raise InvalidInput("n_neighbors must be at least 2", details={"n_neighbors": n_neighbors})
    if not 0.0 <= min_dist <= 1.0:
        raise InvalidInput("min_dist must be within [0, 1]", details={"min_dist": min_dist})
    if sample < MIN_POINTS:
        raise InvalidInput(f"sample must be at least {MIN_POINTS}", details={"sample": sample})
    if refit and latest_map_id(collection) is None:
        raise InvalidInput("refit needs an earlier map of this collection; fit one first", code="no_map")
    return {"n_neighbors": n_neighbors, "min_dist": min_dist, "sample": sample, "refit": refit,
            "random_state": random_state}


def fit_map(collection: Collection, params: dict[str, Any], ctx: JobContext | None = None) -> int:
    """Fit a map on every document (refit: aligned to the newest map), store points and reducer; returns its id."""
    params = map_params(collection, **params)
    report = _reporter(ctx)
    report("loading vectors", 0.0)
    ids, X = collection.all_document_vectors()
    model = LatentMap(n_neighbors=params["n_neighbors"], min_dist=params["min_dist"], sample=params["sample"],
                      random_state=params["random_state"])
    progress = lambda stage, f: report(stage, 0.05 + 0.8 * f)  # noqa: E731
    stop = ctx.should_stop if ctx is not None else None
    previous_id = latest_map_id(collection) if params["refit"] else None
    alignment: dict[str, Any] | None = None
    try:
        if previous_id is not None:
            prev_ids, prev_coords = _points_array(collection, previous_id)
            model.refit(X, prev_ids, prev_coords, ids, progress=progress, should_stop=stop)
            alignment = {
                "previous_map_id": previous_id,
                "transform": model.alignment_.as_dict() if model.alignment_ is not None else None,
                "displacement": model.displacement_.as_dict() if model.displacement_ is not None else None,
            }
        else:
            model.fit(X, progress=progress, should_stop=stop)
    except Cancelled:
        raise JobCancelled() from None
    report("quality", 0.88)
    quality = model.quality(X).as_dict()
    report("storing", 0.95)
    rows = _row_ids(collection)
    with collection.sessions() as s, s.begin():
        row = MapRow(collection_id=collection.id, params=params, quality=quality, alignment=alignment,
                     clustering_id=_newest_clustering(s, collection.id), path="")
        s.add(row)
        s.flush()
        path = Path(collection.dir) / "maps" / f"map-{row.id}.pkl"
        model.save(path)  # written before the commit: a committed map always has its file
        row.path = str(path)
        s.execute(insert(MapPointRow), [
            {"map_id": row.id, "document_id": rows[ext], "x": float(x), "y": float(y), "fitted": 1}
            for ext, (x, y) in zip(ids, model.embedding_, strict=True) if ext in rows
        ])
        map_id = int(row.id)
    _remember(str(path), model)
    report("done", 1.0)
    return map_id


def list_maps(collection: Collection) -> list[MapInfo]:
    """Every map of the collection, newest first."""
    with collection.sessions() as s:
        rows = s.scalars(select(MapRow).where(MapRow.collection_id == collection.id).order_by(MapRow.id.desc())).all()
        counts = dict(s.execute(
            select(MapPointRow.map_id, func.count()).where(MapPointRow.map_id.in_([r.id for r in rows]))
            .group_by(MapPointRow.map_id)
        ).all())
        newest = _newest_clustering(s, collection.id)
    return [_info(r, int(counts.get(r.id, 0)), newest) for r in rows]


def get_map(collection: Collection, map_id: int) -> MapInfo:
    with collection.sessions() as s:
        row = s.get(MapRow, map_id)
        if row is None or row.collection_id != collection.id:
            raise NotFound(f"map {map_id} does not exist in collection {collection.name!r}", code="map_not_found",
                           details={"id": map_id, "collection": collection.name})
        count = s.scalar(select(func.count()).select_from(MapPointRow).where(MapPointRow.map_id == map_id)) or 0
        newest = _newest_clustering(s, collection.id)
    return _info(row, int(count), newest)


def latest_map_id(collection: Collection) -> int | None:
    with collection.sessions() as s:
        return s.scalar(select(func.max(MapRow.id)).where(MapRow.collection_id == collection.id))


def place_new_documents(collection: Collection, map_id: int) -> int:
    """Place documents indexed after the fit with the saved reducer; existing points never move. Returns how many."""
    info = get_map(collection, map_id)
    with _map_lock(map_id):
        with collection.sessions() as s:
            missing = s.execute(
                select(DocumentRow.external_id, DocumentRow.id)
                .where(DocumentRow.collection_id == collection.id,
                       ~DocumentRow.id.in_(select(MapPointRow.document_id).where(MapPointRow.map_id == map_id)))
                .order_by(DocumentRow.id)
            ).all()
        if not missing:
            return 0
        vectors = collection.document_vectors([m[0] for m in missing])
        placeable = [(ext, row_id) for ext, row_id in missing if ext in vectors]
        if not placeable:
            return 0
        coords = _load(info.path).transform(np.vstack([vectors[ext] for ext, _ in placeable]))
        with collection.sessions() as s, s.begin():
            s.execute(insert(MapPointRow), [
                {"map_id": map_id, "document_id": row_id, "x": float(x), "y": float(y), "fitted": 0}
                for (_, row_id), (x, y) in zip(placeable, coords, strict=True)
            ])
    return len(placeable)


def map_points(
    collection: Collection, map_id: int, offset: int = 0, limit: int = 1000,
    bbox: tuple[float, float, float, float] | None = None, place_new: bool = True,
) -> tuple[list[MapPoint], int]:
    """One page of the map's points (document order) with cluster and title; new documents are placed first."""
    info = get_map(collection, map_id)
    if place_new:
        place_new_documents(collection, map_id)
    where = [MapPointRow.map_id == map_id]
    if bbox is not None:
        x0, y0, x1, y1 = bbox
        where += [MapPointRow.x >= min(x0, x1), MapPointRow.x <= max(x0, x1),
                  MapPointRow.y >= min(y0, y1), MapPointRow.y <= max(y0, y1)]
    assignment = select(ClusterAssignmentRow.document_id, ClusterAssignmentRow.cluster).where(
        ClusterAssignmentRow.clustering_id == (info.clustering_id if info.clustering_id is not None else -1)
    ).subquery()
    with collection.sessions() as s:
        total = s.scalar(select(func.count()).select_from(MapPointRow).where(*where)) or 0
        rows = s.execute(
            select(DocumentRow.external_id, MapPointRow.x, MapPointRow.y, assignment.c.cluster, DocumentRow.title)
            .join(DocumentRow, DocumentRow.id == MapPointRow.document_id)
            .outerjoin(assignment, assignment.c.document_id == MapPointRow.document_id)
            .where(*where)
            .order_by(MapPointRow.document_id)
            .offset(offset)
            .limit(limit)
        ).all()
    points = [MapPoint(id=r[0], x=float(r[1]), y=float(r[2]), cluster=None if r[3] is None else int(r[3]),
                       title=r[4] or "") for r in rows]
    return points, int(total)


def project_vectors(collection: Collection, vectors: np.ndarray, map_id: int | None = None) -> np.ndarray | None:
    """2-D positions of vectors on a map (the newest when map_id is None); None when the collection has no map."""
    if map_id is None:
        map_id = latest_map_id(collection)
        if map_id is None:
            return None
    info = get_map(collection, map_id)
    array = np.asarray(vectors, dtype=np.float32)
    if array.ndim != 2 or array.shape[1] != collection.dimension:
        raise DimensionMismatch(
            f"vectors must have dimension {collection.dimension} (collection {collection.name!r})",
            details={"expected": collection.dimension, "got": int(array.shape[-1]) if array.ndim else 0},
        )
    if not len(array):
        return np.zeros((0, 2), dtype=np.float32)
    with _map_lock(map_id):
        return _load(info.path).transform(array)


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
        stored = {r[0]: (r[1], r[2]) for r in s.execute(
            select(DocumentRow.external_id, MapPointRow.x, MapPointRow.y)
            .join(MapPointRow, MapPointRow.document_id == DocumentRow.id)
            .where(MapPointRow.map_id == map_id, DocumentRow.external_id.in_(list(ids)))
        ).all()}
    out = np.zeros((len(ids), 2), dtype=np.float32)
    rest = [i for i, ext in enumerate(ids) if ext not in stored]
    for i, ext in enumerate(ids):
        if ext in stored:
            out[i] = stored[ext]
    if rest:
        placed = project_vectors(collection, np.vstack([vectors[ids[i]] for i in rest]), map_id)
        assert placed is not None
        out[rest] = placed
    return out


def _points_array(collection: Collection, map_id: int) -> tuple[list[str], np.ndarray]:
    with collection.sessions() as s:
        rows = s.execute(
            select(DocumentRow.external_id, MapPointRow.x, MapPointRow.y)
            .join(DocumentRow, DocumentRow.id == MapPointRow.document_id)
            .where(MapPointRow.map_id == map_id)
            .order_by(MapPointRow.document_id)
        ).all()
    return [r[0] for r in rows], np.array([[r[1], r[2]] for r in rows], dtype=np.float32).reshape(-1, 2)


def _row_ids(collection: Collection) -> dict[str, int]:
    with collection.sessions() as s:
        return dict(s.execute(
            select(DocumentRow.external_id, DocumentRow.id).where(DocumentRow.collection_id == collection.id)
        ).all())


def _newest_clustering(s: Any, collection_id: int) -> int | None:
    return s.scalar(select(func.max(ClusteringRow.id)).where(ClusteringRow.collection_id == collection_id))


def _info(row: MapRow, points: int, newest_clustering: int | None) -> MapInfo:
    return MapInfo(
        id=int(row.id), created_at=row.created_at, points=points,
        clustering_id=row.clustering_id if row.clustering_id is not None else newest_clustering,
        quality=dict(row.quality or {}), params=dict(row.params or {}), alignment=row.alignment, path=row.path,
    )


def _map_lock(map_id: int) -> threading.Lock:
    with _LOCK:
        return _MAP_LOCKS.setdefault(map_id, threading.Lock())


def _load(path: str) -> LatentMap:
    """The saved map, cached while its file is unchanged."""
    try:
        mtime = Path(path).stat().st_mtime
    except OSError as exc:
        raise NotFound(f"the map file {path!r} is missing", code="map_file_missing", details={"path": path}) from exc
    with _LOCK:
        cached = _LOADED.get(path)
        if cached is not None and cached[0] == mtime:
            return cached[1]
    model = LatentMap.load(path)
    _remember(path, model, mtime)
    return model


def _remember(path: str, model: LatentMap, mtime: float | None = None) -> None:
    if mtime is None:
        try:
            mtime = Path(path).stat().st_mtime
        except OSError:
            return
    with _LOCK:
        _LOADED.pop(path, None)
        _LOADED[path] = (mtime, model)
        while len(_LOADED) > _MAX_LOADED:
            _LOADED.pop(next(iter(_LOADED)))


def _reporter(ctx: JobContext | None) -> Callable[[str, float], None]:
    def report(stage: str, fraction: float) -> None:
        if ctx is not None:
            ctx.progress(fraction, stage)

    return report
