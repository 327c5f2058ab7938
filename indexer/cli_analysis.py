"""`latent cluster` and `latent map`: run a clustering or a map fit inline, with progress on stderr.

`--if-missing` makes either a no-op when the collection already has one (what `make run` relies on, so a
rerun does not refit). Reading stored runs (`latent clusterings …`, `latent maps …`) is in cli_maps.py.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Annotated, Any

import typer

from indexer.cli_common import CollectionOpt, JsonOpt, emit, exit_codes, settings_for
from latent.clustering.runs import clustering_params, get_clustering, latest_clustering_id, run_clustering
from latent.errors import InvalidInput
from latent.jobs import JobCancelled, run_inline
from latent.maps.runs import fit_map, get_map, latest_map_id, map_params, place_new_documents
from latent.store.store import Store

QuietOpt = Annotated[bool, typer.Option("--quiet", "-q", help="No progress bar.")]
IfMissingOpt = Annotated[
    bool, typer.Option("--if-missing", help="Do nothing (and print the newest one) when the collection has one.")
]


@contextmanager
def _progress(quiet: bool) -> Iterator[Callable[[float, str], None] | None]:
    """A tqdm bar on stderr fed with (fraction, stage) from the job."""
    if quiet:
        yield None
        return
    from tqdm import tqdm

    bar = tqdm(total=100, unit="%", leave=False, bar_format="{desc} {bar} {percentage:3.0f}%")

    def echo(fraction: float, message: str) -> None:
        bar.set_description_str(message[:30])
        bar.n = round(fraction * 100)
        bar.refresh()

    try:
        yield echo
    finally:
        bar.close()


def _run(job: Callable[[], Any]) -> Any:
    """Exit codes: 2 invalid input, 1 any other failure (missing collection, cancelled run)."""
    try:
        with exit_codes():
            return job()
    except (JobCancelled, KeyboardInterrupt):
        typer.echo("interrupted: nothing was stored", err=True)
        raise typer.Exit(130) from None


def cluster(
    ctx: typer.Context,
    collection: CollectionOpt,
    algorithm: Annotated[str, typer.Option(help="kmeans | hdbscan.")] = "kmeans",
    k: Annotated[int | None, typer.Option("-k", help="k-means clusters (default: chosen by silhouette).")] = None,
    min_cluster_size: Annotated[int, typer.Option(help="HDBSCAN's smallest cluster.")] = 5,
    reduce: Annotated[int | None, typer.Option(help="HDBSCAN: reduce to this many dimensions with UMAP first.")] = None,
    seed: Annotated[int, typer.Option(help="Random seed.")] = 0,
    if_missing: IfMissingOpt = False,
    as_json: JsonOpt = False,
    quiet: QuietOpt = False,
) -> None:
    """Cluster a collection's documents, store the run and print its labelled clusters.

    Exit codes: 0 ok, 1 the collection does not exist, 2 invalid options.
    """

    def job() -> Any:
        with Store(settings_for(ctx)) as store:
            target = store.collection(collection)
            newest = latest_clustering_id(target) if if_missing else None
            if newest is not None:
                typer.echo(f"{collection}: has clustering {newest} already; not refitting", err=True)
                return get_clustering(target, newest)
            params = clustering_params(
                target, algorithm=algorithm, k=k, min_cluster_size=min_cluster_size, reduce=reduce, random_state=seed
            )
            with _progress(quiet) as echo:
                result = run_inline(lambda jc: {"clustering_id": run_clustering(target, params, jc)}, echo)
            return get_clustering(target, result["clustering_id"])

    info = _run(job)
    if as_json:
        emit(
            {
                "id": info.id,
                "algorithm": info.algorithm,
                "params": info.params,
                "silhouette": info.silhouette,
                "clusters": info.clusters,
            },
            True,
        )
        return
    silhouette = "n/a" if info.silhouette is None else f"{info.silhouette:.3f}"
    typer.echo(f"clustering {info.id}: {info.algorithm}, {len(info.clusters)} clusters, silhouette {silhouette}")
    typer.echo(f"{'id':>4}  {'size':>6}  label")
    for c in info.clusters:
        typer.echo(f"{c['id']:>4}  {c['size']:>6}  {c['label']}")


def map(  # noqa: A001 - the command is called `map`
    ctx: typer.Context,
    collection: CollectionOpt,
    n_neighbors: Annotated[int, typer.Option(help="UMAP neighbourhood size.")] = 15,
    min_dist: Annotated[float, typer.Option(help="How tightly points may pack (0..1).")] = 0.1,
    sample: Annotated[int, typer.Option(help="Fit on at most this many documents; transform the rest.")] = 50_000,
    refit: Annotated[bool, typer.Option("--refit", help="Refit aligned to the newest map.")] = False,
    place: Annotated[
        bool, typer.Option("--place", help="Only place documents added since the newest map's fit.")
    ] = False,
    seed: Annotated[int, typer.Option(help="Random seed.")] = 42,
    if_missing: IfMissingOpt = False,
    as_json: JsonOpt = False,
    quiet: QuietOpt = False,
) -> None:
    """Fit a 2-D map of a collection (or refit it aligned, or place new documents) and print its quality.

    Exit codes: 0 ok, 1 the collection does not exist, 2 invalid options (e.g. fewer than 5 documents).
    """

    def job() -> Any:
        with Store(settings_for(ctx)) as store:
            target = store.collection(collection)
            if place:
                map_id = latest_map_id(target)
                if map_id is None:
                    raise InvalidInput(f"collection {collection!r} has no map yet; fit one first")
                placed = place_new_documents(target, map_id)
                return get_map(target, map_id), placed
            newest = latest_map_id(target) if if_missing and not refit else None
            if newest is not None:
                typer.echo(f"{collection}: has map {newest} already; not refitting", err=True)
                return get_map(target, newest), None
            params = map_params(
                target, n_neighbors=n_neighbors, min_dist=min_dist, sample=sample, refit=refit, random_state=seed
            )
            with _progress(quiet) as echo:
                result = run_inline(lambda jc: {"map_id": fit_map(target, params, jc)}, echo)
            return get_map(target, result["map_id"]), None

    info, placed = _run(job)
    data: dict[str, Any] = {
        "id": info.id,
        "points": info.points,
        "clustering_id": info.clustering_id,
        "quality": info.quality,
        "alignment": info.alignment,
    }
    if placed is not None:
        data["placed"] = placed
    if as_json:
        emit(data, True)
        return
    line = f"map {info.id}: {info.points} points"
    if placed is not None:
        line += f", {placed} newly placed"
    if info.quality:
        line += (
            f", trustworthiness {info.quality['trustworthiness']:.3f}"
            f", knn preservation {info.quality['knn_preservation']:.3f}"
        )
    typer.echo(line)
    if info.alignment and info.alignment.get("displacement"):
        moved = info.alignment["displacement"]
        typer.echo(
            f"aligned to map {info.alignment['previous_map_id']}: {moved['shared']} shared points moved "
            f"{moved['relative_median']:.3f} of the layout's spread (median)"
        )
