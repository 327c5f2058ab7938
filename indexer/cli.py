"""The `latent` command line: index, search, eval, collections, delete, check, serve, keys.

Progress goes to stderr, results to stdout; `--json` prints machine-readable output.
Exit codes (one mapping, indexer/cli_common.py): 0 ok, 1 the job failed, 2 usage error, 130 interrupted.
"""

from __future__ import annotations

import json
import sys
from dataclasses import asdict
from pathlib import Path
from typing import Annotated, Any

import typer

from indexer.cli_common import (
    INTERRUPTED,
    USAGE,
    CollectionOpt,
    JsonOpt,
    count_lines,
    emit,
    exit_code_for,
    fail,
    open_store,
)
from latent import __version__

app = typer.Typer(
    name="latent",
    help="Latent: embed documents, search them, map and generate in their latent space.",
    no_args_is_help=True,
    add_completion=True,
    pretty_exceptions_enable=False,
)


def _mount_subcommands() -> None:
    from indexer import cli_alias, cli_analysis, cli_deploy, cli_eval, cli_export, cli_keys, cli_recommend, cli_vae

    cli_alias.mount(app)
    app.add_typer(cli_keys.app, name="keys")
    app.command("migrate")(cli_deploy.migrate)
    app.command("serve")(cli_deploy.serve)
    app.command("eval")(cli_eval.evaluate)
    app.command("export")(cli_export.export)
    app.command("recommend")(cli_recommend.recommend)
    app.command("cluster")(cli_analysis.cluster)
    app.command("map")(cli_analysis.map)
    app.command("train-vae")(cli_vae.train_vae)
    app.add_typer(cli_vae.app, name="vae")
    _mount_parity_commands()


def _mount_parity_commands() -> None:
    """Commands for the HTTP routes that had none (tests/indexer/test_cli_parity.py keeps the two in step)."""
    from indexer import cli_data, cli_jobs, cli_maps, cli_profiles, cli_recommend

    app.command("create-collection")(cli_data.create_collection)
    app.command("info")(cli_data.info)
    app.add_typer(cli_data.documents_app, name="documents", no_args_is_help=True)
    app.command("search-batch")(cli_data.search_batch)
    app.command("embed")(cli_data.embed)
    app.command("tokenize")(cli_data.tokenize)
    app.command("neighbors")(cli_recommend.neighbors)
    app.add_typer(cli_profiles.app, name="profiles", no_args_is_help=True)
    app.add_typer(cli_maps.clusterings_app, name="clusterings", no_args_is_help=True)
    app.add_typer(cli_maps.maps_app, name="maps", no_args_is_help=True)
    app.add_typer(cli_jobs.app, name="jobs")


def _version(value: bool) -> None:
    if value:
        typer.echo(f"latent {__version__}")
        raise typer.Exit()


@app.callback()
def main_options(
    ctx: typer.Context,
    home: Annotated[Path | None, typer.Option(help="Data home (env LATENT_HOME, default ./.latent).")] = None,
    database_url: Annotated[str | None, typer.Option(help="SQLAlchemy URL (env LATENT_DATABASE_URL).")] = None,
    model: Annotated[str | None, typer.Option(help="Model: bundled name or local folder (env LATENT_MODEL).")] = None,
    backend: Annotated[
        str | None, typer.Option(help="Encoder backend: torch|onnx|onnx-int8|openvino|openvino-int8.")
    ] = None,
    query_backend: Annotated[
        str | None,
        typer.Option(
            help="Backend for query texts when it is not the collection's; only if their vectors agree "
            "(env LATENT_QUERY_BACKEND)."
        ),
    ] = None,
    batch_size: Annotated[int | None, typer.Option(help="Texts per encoder forward pass.")] = None,
    device: Annotated[str | None, typer.Option(help="Torch device (cpu).")] = None,
    version: Annotated[
        bool, typer.Option("--version", callback=_version, is_eager=True, help="Show the version.")
    ] = False,
) -> None:
    """Global options apply to every command; each also reads LATENT_* environment variables."""
    ctx.obj = {
        "home": home,
        "database_url": database_url,
        "model": model,
        "backend": backend,
        "query_backend": query_backend,
        "batch_size": batch_size,
        "device": device,
    }


@app.command()
def index(
    ctx: typer.Context,
    source: Annotated[
        str | None,
        typer.Argument(help="JSONL/CSV/.txt/.md file, a directory, or - for stdin. Omitted: the embedded demo corpus."),
    ] = None,
    collection: Annotated[str, typer.Option("--collection", "-c", help="Collection to write into.")] = "demo",
    id_field: Annotated[str | None, typer.Option(help="Field holding the document id (default _id/id).")] = None,
    text_fields: Annotated[str | None, typer.Option(help="Comma-separated fields joined as the text.")] = None,
    title_field: Annotated[str | None, typer.Option(help="Field holding the title (default title).")] = None,
    metadata_fields: Annotated[
        str | None, typer.Option(help="Comma-separated metadata fields (default: all others).")
    ] = None,
    index_type: Annotated[str | None, typer.Option("--index", help="Index type for a new collection.")] = None,
    vector_field: Annotated[
        str | None, typer.Option(help="Field holding each document's own vector (a JSON list), stored as given.")
    ] = None,
    dimension: Annotated[
        int | None,
        typer.Option(help="Create the collection without a model, for vectors of this width (--vector-field).", min=1),
    ] = None,
    metric: Annotated[str | None, typer.Option(help="Metric of a new collection: cosine (default), dot or l2.")] = None,
    batch_docs: Annotated[int, typer.Option(help="Documents per committed batch.")] = 256,
    limit: Annotated[int | None, typer.Option(help="Index at most this many documents.")] = None,
    strict: Annotated[bool, typer.Option(help="Fail on the first malformed record instead of skipping it.")] = False,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No progress bar.")] = False,
    engine: Annotated[str, typer.Option(help="local (this process) or ray (Ray Data workers embed).")] = "local",
    ray_address: Annotated[
        str | None, typer.Option(help="--engine ray: auto, ray://host:10001 (default: start a local Ray).")
    ] = None,
    workers: Annotated[
        int | None, typer.Option(help="--engine ray: encoder actors (default: CPUs - 1).", min=1)
    ] = None,
    as_json: JsonOpt = False,
) -> None:
    """Index documents into a collection. Re-running finishes an interrupted job without re-embedding."""
    import itertools

    from indexer.pipeline import index_documents
    from indexer.sources import FieldMap, iter_source
    from latent.ingest.demo import demo_documents

    fields = FieldMap(
        id_field=id_field,
        title_field=title_field,
        text_fields=[f.strip() for f in text_fields.split(",")] if text_fields else [],
        metadata_fields=[f.strip() for f in metadata_fields.split(",")] if metadata_fields else None,
        vector_field=vector_field,
    )
    if engine not in ("local", "ray"):
        raise fail(f"--engine must be local or ray, not {engine!r}", USAGE)
    if engine == "local" and (ray_address or workers):
        raise fail("--ray-address and --workers need --engine ray", USAGE)
    if engine == "local" and source is not None and source.lower().endswith(".parquet"):  # reuses stored vectors
        from indexer.cli_export import index_parquet

        opts = {"index_type": index_type, "batch_docs": batch_docs, "limit": limit, "strict": strict}
        return index_parquet(ctx, source, collection, fields, **opts, quiet=quiet, as_json=as_json)
    items = demo_documents() if source is None or engine == "ray" else iter_source(source, fields)
    if limit is not None:
        items = itertools.islice(items, limit)
    store = open_store(ctx)
    try:
        total = count_lines(source) if source and source != "-" and limit is None else limit
        if engine == "ray":
            from indexer.ray_engine import RayOptions, index_with_ray

            summary = index_with_ray(
                store,
                collection,
                source,
                fields,
                RayOptions(ray_address, workers),
                batch_docs=batch_docs,
                strict=strict,
                progress=not quiet,
                total=total,
                create={"index": index_type},
                limit=limit,
            )
        else:
            summary = index_documents(
                store,
                collection,
                items,
                batch_docs=batch_docs,
                strict=strict,
                progress=not quiet,
                total=total,
                create={"index": index_type, "dimension": dimension, "metric": metric},
            )
    finally:
        store.close()
    data = summary.as_dict()
    if as_json:
        emit(data, True)
    else:
        typer.echo(
            f"{collection}: indexed {summary.indexed}, unchanged {summary.unchanged}, "
            f"metadata updated {summary.metadata_updated}, rejected {summary.rejected}; "
            f"{summary.chunks} chunks, {summary.tokens} tokens in {summary.seconds:.1f}s "
            f"({summary.docs_per_second:.1f} docs/s, {summary.tokens_per_second:.0f} tokens/s) "
            f"with {summary.model} on {summary.backend}"
        )
    if summary.interrupted:
        typer.echo("interrupted: finished batches are stored; run the same command again to resume", err=True)
        raise typer.Exit(INTERRUPTED)
    if summary.indexed + summary.unchanged + summary.metadata_updated == 0:
        empty = f"{source or 'the input'} holds no documents"
        raise fail("no document could be indexed" if summary.rejected else empty)


@app.command()
def search(
    ctx: typer.Context,
    query: Annotated[str, typer.Argument(help="Query text.")],
    collection: CollectionOpt = "demo",
    k: Annotated[int, typer.Option("-k", help="Number of hits.", min=1, max=1000)] = 10,
    mode: Annotated[str, typer.Option(help="dense | sparse | hybrid.")] = "dense",
    filter: Annotated[
        str | None, typer.Option(help='Metadata filter as JSON, e.g. \'{"year": {"$gte": 2020}}\'.')
    ] = None,
    as_json: JsonOpt = False,
) -> None:
    """Search a collection and print the best documents."""
    from latent.search import SearchOptions
    from latent.search import search as run_search

    store = open_store(ctx)
    try:
        spec = _parse_json(filter, "--filter") if filter else None
        hits = run_search(store.collection(collection), query, options=SearchOptions(k=k, mode=mode, filter=spec))
    finally:
        store.close()
    emit(
        {"hits": [asdict(h) for h in hits]},
        as_json,
        [[h.rank, f"{h.score:.4f}", h.id, (h.title or "")[:70]] for h in hits],
        ["rank", "score", "id", "title"],
    )


def _parse_json(text: str, option: str) -> Any:
    try:
        return json.loads(text)
    except ValueError as exc:
        raise fail(f"{option} is not valid JSON: {exc}", USAGE) from exc


@app.command()
def collections(ctx: typer.Context, as_json: JsonOpt = False) -> None:
    """List collections with their model, encoder backend, dimension and sizes."""
    store = open_store(ctx)
    try:
        infos = store.list_collections()
    finally:
        store.close()
    data = [
        {
            "name": c.name,
            "model": c.model,
            "backend": c.backend,
            "dimension": c.dimension,
            "documents": c.documents,
            "chunks": c.chunks,
            "index": c.index,
            "query_backend": c.query_backend,
        }
        for c in infos
    ]
    headers = ["name", "model", "backend", "dimension", "documents", "chunks", "index", "query backend"]
    emit(data, as_json, [list(d.values()) for d in data], headers)


@app.command()
def delete(
    ctx: typer.Context,
    collection: CollectionOpt,
    ids: Annotated[list[str] | None, typer.Option("--id", help="Document id to delete (repeatable).")] = None,
    drop: Annotated[bool, typer.Option("--drop", help="Delete the whole collection.")] = False,
    as_json: JsonOpt = False,
) -> None:
    """Delete documents by id, or a whole collection with --drop."""
    if not ids and not drop:
        raise fail("give --id ID (repeatable) or --drop", USAGE)
    store = open_store(ctx)
    try:
        if drop:
            store.drop_collection(collection)
            result: dict[str, Any] = {"dropped": collection}
        else:
            n = store.collection(collection).delete(ids or [])
            result = {"deleted": n, "missing": max(0, len(set(ids or [])) - n)}
    finally:
        store.close()
    if as_json:
        emit(result, True)
    else:
        typer.echo(", ".join(f"{k}: {v}" for k, v in result.items()))
    if not drop and result["deleted"] == 0:
        raise fail(f"no document with id {', '.join(ids or [])} in {collection!r}")


@app.command()
def check(
    ctx: typer.Context,
    collection: Annotated[str | None, typer.Option("--collection", "-c", help="Only this collection.")] = None,
    as_json: JsonOpt = False,
) -> None:
    """Verify the store's invariants; exit 0 only when everything is consistent."""
    from latent.store.check import check_store

    store = open_store(ctx)
    try:
        reports = check_store(store, collection)
    finally:
        store.close()
    emit(
        [asdict(r) | {"ok": r.ok} for r in reports],
        as_json,
        [[r.collection, r.documents, r.chunks, r.vectors, "ok" if r.ok else "; ".join(r.problems)] for r in reports],
        ["collection", "documents", "chunks", "vectors", "status"],
    )
    if not all(r.ok for r in reports):
        raise typer.Exit(1)


_mount_subcommands()


def main() -> None:
    """Entry point: turns Latent's errors into one clear line and a meaningful exit code."""
    from latent.errors import LatentError

    try:
        app()
    except LatentError as exc:
        typer.echo(f"error: {exc.message}", err=True)
        sys.exit(exit_code_for(exc))
    except BrokenPipeError:
        sys.exit(0)
