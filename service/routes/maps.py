"""Maps of a collection: fit one (a job), list them, page through points, project texts/ids/vectors."""

from __future__ import annotations

from typing import Annotated

import numpy as np
from fastapi import APIRouter, Query, status

from latent.errors import InvalidInput
from latent.limits import check_batch
from latent.maps.project import project_ids, project_texts, project_vectors
from latent.maps.runs import (
    fit_map,
    get_map,
    list_maps,
    map_params,
    map_points,
)
from service.auth import Read, Write
from service.deps import CollectionDep, JobsDep, SettingsDep, start_job
from service.schemas.analysis import (
    XY,
    MapCreate,
    MapList,
    MapPublic,
    PointList,
    PointPublic,
    ProjectRequest,
    ProjectResponse,
)
from service.schemas.jobs import JobPublic

router = APIRouter(prefix="/v1/collections/{name}", tags=["maps"])


@router.post("/maps", name="create", dependencies=[Write], status_code=status.HTTP_202_ACCEPTED)
def create_map(collection: CollectionDep, jobs: JobsDep, body: MapCreate | None = None) -> JobPublic:
    """Start a map fit (or, with refit, an aligned refit of the newest map); the job's result names `map_id`."""
    params = map_params(collection, **(body or MapCreate()).model_dump())
    return start_job(jobs, "map", collection, params, fit_map, result="map_id")


@router.get("/maps", name="list", dependencies=[Read])
def list_collection_maps(collection: CollectionDep) -> MapList:
    """Every map of the collection, newest first."""
    data = [MapPublic.of(m) for m in list_maps(collection)]
    return MapList(data=data, count=len(data))


@router.get("/maps/{map_id}", name="get", dependencies=[Read])
def get_collection_map(map_id: int, collection: CollectionDep) -> MapPublic:
    """A map's parameters, quality, point count and (for a refit) its alignment to the previous map."""
    return MapPublic.of(get_map(collection, map_id))


def _bbox(text: str | None) -> tuple[float, float, float, float] | None:
    if text is None or not text.strip():
        return None
    try:
        values = tuple(float(v) for v in text.split(","))
    except ValueError:
        values = ()
    if len(values) != 4 or not all(np.isfinite(values)):
        raise InvalidInput("bbox must be four numbers x0,y0,x1,y1", code="invalid_bbox", details={"bbox": text})
    return values  # type: ignore[return-value]


@router.get("/maps/{map_id}/points", name="points", dependencies=[Read])
def get_map_points(
    map_id: int,
    collection: CollectionDep,
    offset: Annotated[int, Query(ge=0, description="Points to skip.")] = 0,
    limit: Annotated[int, Query(ge=1, le=50_000, description="Points per page.")] = 1000,
    bbox: Annotated[str | None, Query(description="Only points inside x0,y0,x1,y1.")] = None,
) -> PointList:
    """One page of points with cluster ids and titles (read-only: documents written since the fit were
    placed on the newest map by their write)."""
    points, total = map_points(collection, map_id, offset, limit, _bbox(bbox))
    return PointList(data=[PointPublic.of(p) for p in points], count=total)


@router.post("/maps/{map_id}/project", name="project", dependencies=[Read])
def project(map_id: int, body: ProjectRequest, collection: CollectionDep, settings: SettingsDep) -> ProjectResponse:
    """Place texts, stored documents or vectors on the map (existing points do not move)."""
    get_map(collection, map_id)
    if body.texts is not None:
        check_batch(settings, len(body.texts), "texts")
        coords = project_texts(collection, body.texts, map_id)
    elif body.ids is not None:
        check_batch(settings, len(body.ids), "ids")
        coords = project_ids(collection, body.ids, map_id)
    else:
        vectors = body.vectors or []
        check_batch(settings, len(vectors), "vectors")
        coords = project_vectors(collection, vectors, map_id)  # validated there: width, finiteness
    points = [] if coords is None else [XY(x=float(x), y=float(y)) for x, y in coords]
    return ProjectResponse(points=points)
