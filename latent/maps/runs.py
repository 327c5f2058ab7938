"""Maps of a collection: fit (or refit aligned) and store a 2-D layout, place later documents (see also project).

Documents written after a fit are placed on the newest map by the writer (`place_on_current_map`, called
right after every upsert); reading a map's points never changes it.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import numpy as np
from sqlalchemy import func, insert, select
from sqlalchemy.exc import IntegrityError

from latent.errors import InvalidInput, LatentError, NotFound
from latent.jobs import JobContext, Progress
from latent.maps.cache import load, map_lock, remember
from latent.maps.model import MIN_POINTS, LatentMap
from latent.store.collection import Collection
from latent.store.feature_models import ClusterAssignmentRow, MapPointRow, MapRow
from latent.store.models import DocumentRow

__all__ = [
    "MapInfo",
    "MapPoint",
    "map_params",
    "fit_map",
    "list_maps",
    "get_map",
    "latest_map_id",
    "place_new_documents",
    "place_on_current_map",
    "map_points",
]

log = logging.getLogger(__name__)


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
    return {
        "n_neighbors": n_neighbors,
        "min_dist": min_dist,
        "sample": sample,
        "refit": refit,
        "random_state": random_state,
    }


def fit_map(collection: Collection, params: dict[str, Any], ctx: JobContext | None = None) -> int:
    """Fit a map on every document (refit: aligned to the newest map), store points and reducer; returns its id.

    Documents written while the fit ran are placed on the new map before this returns.
    """
    params = map_params(collection, **params)
    report = _reporter(ctx)
    report(0.0, "loading vectors")
    ids, X = collection.all_document_vectors()
    model = LatentMap(
        n_neighbors=params["n_neighbors"],
        min_dist=params["min_dist"],
        sample=params["sample"],
        random_state=params["random_state"],
    )
    progress = lambda done, stage: report(0.05 + 0.8 * done, stage)  # noqa: E731
    stop = ctx.should_stop if ctx is not None else None
    previous_id = latest_map_id(collection) if params["refit"] else None
    alignment: dict[str, Any] | None = None
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
    report(0.88, "quality")
    quality = model.quality(X).as_dict()
    report(0.95, "storing")
    map_id, path = _store_map(collection, model, ids, params, quality, alignment)
    remember(str(path), model)
    _place_committed(collection, map_id)
    report(1.0, "done")
    return map_id


def _store_map(
    collection: Collection,
    model: LatentMap,
    ids: list[str],
    params: dict[str, Any],
    quality: dict[str, Any],
    alignment: dict[str, Any] | None,
) -> tuple[int, Path]:
    """The map's row, points and reducer file in one transaction; a failed write leaves no file behind."""
    rows = _row_ids(collection)
    path: Path | None = None
    try:
        with collection.sessions() as s, s.begin():
            row = MapRow(
                collection_id=collection.id,
                params=params,
                quality=quality,
                alignment=alignment,
                clustering_id=s.scalar(collection.newest_clustering_query()),
                path="",
            )
            s.add(row)
            s.flush()
            path = Path(collection.dir) / "maps" / f"map-{row.id}.pkl"
            model.save(path)  # written before the commit: a committed map always has its file
            row.path = str(path)
            s.execute(
                insert(MapPointRow),
                [
                    {"map_id": row.id, "document_id": rows[ext], "x": float(x), "y": float(y), "fitted": 1}
                    for ext, (x, y) in zip(ids, model.embedding_, strict=True)
                    if ext in rows
                ],
            )
            map_id = int(row.id)
    except BaseException:
        if path is not None:
            path.unlink(missing_ok=True)  # the rows rolled back: a file without its map is litter
        raise
    return map_id, path


def list_maps(collection: Collection) -> list[MapInfo]:
    """Every map of the collection, newest first."""
    with collection.sessions() as s:
        rows = s.scalars(select(MapRow).where(MapRow.collection_id == collection.id).order_by(MapRow.id.desc())).all()
        counts = dict(
            s.execute(
                select(MapPointRow.map_id, func.count())
                .where(MapPointRow.map_id.in_([r.id for r in rows]))
                .group_by(MapPointRow.map_id)
            ).all()
        )
        newest = s.scalar(collection.newest_clustering_query())
    return [_info(r, int(counts.get(r.id, 0)), newest) for r in rows]


def get_map(collection: Collection, map_id: int) -> MapInfo:
    with collection.sessions() as s:
        row = s.get(MapRow, map_id)
        if row is None or row.collection_id != collection.id:
            raise NotFound(
                f"map {map_id} does not exist in collection {collection.name!r}",
                code="map_not_found",
                details={"id": map_id, "collection": collection.name},
            )
        count = s.scalar(select(func.count()).select_from(MapPointRow).where(MapPointRow.map_id == map_id)) or 0
        newest = s.scalar(collection.newest_clustering_query())
    return _info(row, int(count), newest)


def latest_map_id(collection: Collection) -> int | None:
    with collection.sessions() as s:
        return s.scalar(select(func.max(MapRow.id)).where(MapRow.collection_id == collection.id))


def place_new_documents(collection: Collection, map_id: int) -> int:
    """Place documents indexed after the fit with the saved reducer; existing points never move. Returns how many."""
    info = get_map(collection, map_id)
    with map_lock(map_id):
        with collection.sessions() as s:
            missing = s.execute(
                select(DocumentRow.external_id, DocumentRow.id)
                .where(
                    DocumentRow.collection_id == collection.id,
                    ~DocumentRow.id.in_(select(MapPointRow.document_id).where(MapPointRow.map_id == map_id)),
                )
                .order_by(DocumentRow.id)
            ).all()
        if not missing:
            return 0
        vectors = collection.document_vectors([m[0] for m in missing])
        placeable = [(ext, row_id) for ext, row_id in missing if ext in vectors]
        if not placeable:
            return 0
        coords = load(info.path).transform(np.vstack([vectors[ext] for ext, _ in placeable]))
        with collection.sessions() as s, s.begin():
            s.execute(
                insert(MapPointRow),
                [
                    {"map_id": map_id, "document_id": row_id, "x": float(x), "y": float(y), "fitted": 0}
                    for (_, row_id), (x, y) in zip(placeable, coords, strict=True)
                ],
            )
    return len(placeable)


def place_on_current_map(collection: Collection) -> int:
    """After a write: place the documents the newest map lacks (0 without a map); the writer calls this.

    The documents are already committed, so a placement that cannot be done now (the map file is gone,
    or another process placed the same documents first) is logged, not raised: the write succeeded.
    """
    map_id = latest_map_id(collection)
    return 0 if map_id is None else _place_committed(collection, map_id)


def _place_committed(collection: Collection, map_id: int) -> int:
    try:
        return place_new_documents(collection, map_id)
    except (LatentError, IntegrityError) as exc:
        log.warning("could not place new documents of %r on map %s: %s", collection.name, map_id, exc)
        return 0


def map_points(
    collection: Collection,
    map_id: int,
    offset: int = 0,
    limit: int = 1000,
    bbox: tuple[float, float, float, float] | None = None,
) -> tuple[list[MapPoint], int]:
    """One page of the map's points (document order) with cluster and title; read-only.

    Documents written after the fit are on the newest map once their write returned (the writer places
    them); an older map keeps the points it had.
    """
    info = get_map(collection, map_id)
    where = [MapPointRow.map_id == map_id]
    if bbox is not None:
        x0, y0, x1, y1 = bbox
        where += [
            MapPointRow.x >= min(x0, x1),
            MapPointRow.x <= max(x0, x1),
            MapPointRow.y >= min(y0, y1),
            MapPointRow.y <= max(y0, y1),
        ]
    assignment = (
        select(ClusterAssignmentRow.document_id, ClusterAssignmentRow.cluster)
        .where(ClusterAssignmentRow.clustering_id == (info.clustering_id if info.clustering_id is not None else -1))
        .subquery()
    )
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
    points = [
        MapPoint(id=r[0], x=float(r[1]), y=float(r[2]), cluster=None if r[3] is None else int(r[3]), title=r[4] or "")
        for r in rows
    ]
    return points, int(total)


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
        return dict(
            s.execute(
                select(DocumentRow.external_id, DocumentRow.id).where(DocumentRow.collection_id == collection.id)
            ).all()
        )


def _info(row: MapRow, points: int, newest_clustering: int | None) -> MapInfo:
    return MapInfo(
        id=int(row.id),
        created_at=row.created_at,
        points=points,
        clustering_id=row.clustering_id if row.clustering_id is not None else newest_clustering,
        quality=dict(row.quality or {}),
        params=dict(row.params or {}),
        alignment=row.alignment,
        path=row.path,
    )


def _reporter(ctx: JobContext | None) -> Progress:
    def report(fraction: float, stage: str) -> None:
        if ctx is not None:
            ctx.progress(fraction, stage)

    return report
