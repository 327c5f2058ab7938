"""`latent clusterings …` and `latent maps …`: read stored clustering runs and maps, place texts on a map.

Fitting them is `latent cluster` / `latent map` (cli_analysis.py); these commands store nothing.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict
from typing import Annotated, Any

import typer

from indexer.cli_common import CollectionOpt, JsonOpt, emit, exit_codes, settings_for
from latent.clustering.runs import ClusteringInfo, cluster_documents, get_clustering, list_clusterings
from latent.errors import InvalidInput
from latent.limits import check_batch
from latent.maps.project import project_ids, project_texts
from latent.maps.runs import MapInfo, get_map, list_maps, map_points
from latent.store.collection import Collection
from latent.store.store import Store

clusterings_app = typer.Typer(help="Stored clustering runs: list, show one, page a cluster's documents.")
maps_app = typer.Typer(help="Stored maps: list, show one, page its points, project texts or ids onto it.")

OffsetOpt = Annotated[int, typer.Option(help="Rows to skip.", min=0)]


@contextmanager
def _collection(ctx: typer.Context, name: str) -> Iterator[Collection]:
    with exit_codes(), Store(settings_for(ctx)) as store:
        yield store.collection(name)


def _clustering_dict(info: ClusteringInfo) -> dict[str, Any]:
    return asdict(info)


def _map_dict(info: MapInfo) -> dict[str, Any]:
    data = asdict(info)
    data.pop("path")  # where the reducer lies on disk is the store's business
    return data


@clusterings_app.command("list")
def clusterings_list(ctx: typer.Context, collection: CollectionOpt, as_json: JsonOpt = False) -> None:
    """Every clustering run of the collection, newest first."""
    with _collection(ctx, collection) as coll:
        infos = list_clusterings(coll)
    rows = [[i.id, i.algorithm, len(i.clusters), i.silhouette, f"{i.created_at:%Y-%m-%d %H:%M}"] for i in infos]
    emit([_clustering_dict(i) for i in infos], as_json, rows, ["id", "algorithm", "clusters", "silhouette", "created"])


@clusterings_app.command("get")
def clusterings_get(
    ctx: typer.Context,
    clustering_id: Annotated[int, typer.Argument(help="Clustering id (`latent clusterings list`).")],
    collection: CollectionOpt,
    as_json: JsonOpt = False,
) -> None:
    """A clustering's clusters with labels, terms, sizes and representatives. Exit 1: no such clustering."""
    with _collection(ctx, collection) as coll:
        info = get_clustering(coll, clustering_id)
    rows = [[c["id"], c["size"], c["label"], ", ".join(c.get("representatives", [])[:3])] for c in info.clusters]
    emit(_clustering_dict(info), as_json, rows, ["id", "size", "label", "representatives"])


@clusterings_app.command("documents")
def clusterings_documents(
    ctx: typer.Context,
    clustering_id: Annotated[int, typer.Argument(help="Clustering id.")],
    cluster: Annotated[int, typer.Argument(help="Cluster id (-1: HDBSCAN's noise).")],
    collection: CollectionOpt,
    offset: OffsetOpt = 0,
    limit: Annotated[int, typer.Option(help="Documents per page.", min=1, max=10_000)] = 100,
    with_text: Annotated[bool, typer.Option("--with-text", help="Include each document's text.")] = False,
    as_json: JsonOpt = False,
) -> None:
    """One page of a cluster's documents and how many it has."""
    with _collection(ctx, collection) as coll:
        docs, total = cluster_documents(coll, clustering_id, cluster, offset, limit)
    data = [{"id": d.id, "title": d.title, **({"text": d.text} if with_text else {})} for d in docs]
    emit({"data": data, "count": total}, as_json, [[d.id, d.title[:70]] for d in docs], ["id", "title"])


@maps_app.command("list")
def maps_list(ctx: typer.Context, collection: CollectionOpt, as_json: JsonOpt = False) -> None:
    """Every map of the collection, newest first."""
    with _collection(ctx, collection) as coll:
        infos = list_maps(coll)
    rows = [
        [i.id, i.points, i.clustering_id, i.quality.get("trustworthiness"), f"{i.created_at:%Y-%m-%d %H:%M}"]
        for i in infos
    ]
    emit([_map_dict(i) for i in infos], as_json, rows, ["id", "points", "clustering", "trustworthiness", "created"])


@maps_app.command("get")
def maps_get(
    ctx: typer.Context,
    map_id: Annotated[int, typer.Argument(help="Map id (`latent maps list`).")],
    collection: CollectionOpt,
    as_json: JsonOpt = False,
) -> None:
    """A map's parameters, quality, point count and alignment to the previous map. Exit 1: no such map."""
    with _collection(ctx, collection) as coll:
        info = get_map(coll, map_id)
    emit(_map_dict(info), as_json, [[k, v] for k, v in _map_dict(info).items()], ["field", "value"])


def _bbox(text: str | None) -> tuple[float, float, float, float] | None:
    if not text:
        return None
    try:
        values = tuple(float(v) for v in text.split(","))
    except ValueError:
        values = ()
    if len(values) != 4:
        raise InvalidInput("--bbox must be four numbers x0,y0,x1,y1", code="invalid_bbox", details={"bbox": text})
    return values  # type: ignore[return-value]


@maps_app.command("points")
def maps_points(
    ctx: typer.Context,
    map_id: Annotated[int, typer.Argument(help="Map id.")],
    collection: CollectionOpt,
    offset: OffsetOpt = 0,
    limit: Annotated[int, typer.Option(help="Points per page.", min=1, max=50_000)] = 1000,
    bbox: Annotated[str | None, typer.Option(help="Only points inside x0,y0,x1,y1.")] = None,
    as_json: JsonOpt = False,
) -> None:
    """One page of a map's points with their cluster and title."""
    with _collection(ctx, collection) as coll:
        points, total = map_points(coll, map_id, offset, limit, _bbox(bbox))
    rows = [[p.id, f"{p.x:.3f}", f"{p.y:.3f}", p.cluster, p.title[:60]] for p in points]
    emit({"data": [asdict(p) for p in points], "count": total}, as_json, rows, ["id", "x", "y", "cluster", "title"])


@maps_app.command("project")
def maps_project(
    ctx: typer.Context,
    map_id: Annotated[int, typer.Argument(help="Map id.")],
    collection: CollectionOpt,
    texts: Annotated[list[str] | None, typer.Option("--text", help="A text to place (repeatable).")] = None,
    ids: Annotated[list[str] | None, typer.Option("--id", help="A stored document id to place (repeatable).")] = None,
    as_json: JsonOpt = False,
) -> None:
    """Place texts or stored documents on a map (existing points do not move). Exit 2: give --text or --id."""
    with _collection(ctx, collection) as coll:
        if bool(texts) == bool(ids):
            raise InvalidInput("give --text (repeatable) or --id (repeatable), not both")
        get_map(coll, map_id)
        given = list(texts or ids or [])
        check_batch(settings_for(ctx), len(given), "texts" if texts else "ids")
        coords = project_texts(coll, given, map_id) if texts else project_ids(coll, given, map_id)
    points = [] if coords is None else [{"x": float(x), "y": float(y)} for x, y in coords]
    rows = [[g[:60], f"{p['x']:.3f}", f"{p['y']:.3f}"] for g, p in zip(given, points, strict=True)]
    emit({"points": points}, as_json, rows, ["input", "x", "y"])
