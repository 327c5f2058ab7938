"""`latent eval`: index a BEIR dataset (reused when already indexed) and score its retrieval."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from indexer.cli_common import INTERRUPTED, USAGE, JsonOpt, count_lines, emit, fail, open_store
from latent.store.store import Store


def _eval_collection(store: Store, given: str | None, folder_name: str) -> str:
    """The collection to evaluate: the folder's, unless it was built with another backend than the one
    asked for by name, which then gets its own `<folder>-<backend>` collection (the old one stays)."""
    from latent.embedder.choice import AUTO
    from latent.errors import NotFound

    name = given or folder_name
    wanted = store.settings.backend
    try:
        built_with = store.collection(name).backend
    except NotFound:
        return name
    if wanted == AUTO or built_with == wanted:
        return name
    if given is not None:
        raise fail(
            f"collection {name!r} was built with backend {built_with}, not {wanted}: evaluate it with "
            f"--backend {built_with}, or give another --collection to build one with {wanted}",
            USAGE,
        )
    return f"{folder_name}-{wanted}"


def evaluate(
    ctx: typer.Context,
    folder: Annotated[Path, typer.Argument(help="BEIR folder: corpus.jsonl, queries.jsonl, qrels/test.tsv.")],
    collection: Annotated[str | None, typer.Option("--collection", "-c", help="Default: the folder's name.")] = None,
    mode: Annotated[str, typer.Option(help="dense | sparse | hybrid.")] = "dense",
    split: Annotated[str, typer.Option(help="Qrels split file under qrels/.")] = "test",
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No progress bar.")] = False,
    as_json: JsonOpt = False,
) -> None:
    """Index a BEIR dataset (reused if already indexed) and report nDCG@10, recall@10/100, MRR@10."""
    from indexer.pipeline import index_documents
    from indexer.sources import iter_source
    from latent.evaluation import load_beir, run_queries, score_run
    from latent.search import SearchOptions, search_many

    beir = load_beir(folder, split)
    store = open_store(ctx)
    try:
        name = _eval_collection(store, collection, folder.resolve().name)
        summary = index_documents(
            store, name, iter_source(str(beir.corpus)), progress=not quiet, total=count_lines(str(beir.corpus))
        )
        if summary.interrupted:
            raise fail("interrupted while indexing", INTERRUPTED)
        coll = store.collection(name)
        options = SearchOptions(k=100, mode=mode)

        def batch(queries: list[str]) -> list[list[str]]:
            return [[h.id for h in hits] for hits in search_many(coll, queries, options=options)]

        run, search_seconds = run_queries(beir.queries, batch)
        scores = score_run(run, beir.qrels)
        documents = coll.count()
    finally:
        store.close()
    result = {
        **{k: round(v, 4) for k, v in scores.items()},
        "queries": len(beir.queries),
        "documents": documents,
        "mode": mode,
        "collection": name,
        "model": summary.model,
        "backend": summary.backend,
        "index_seconds": round(summary.seconds, 2),
        "search_seconds": round(search_seconds, 2),
    }
    emit(result, as_json, [[k, v] for k, v in result.items()], ["metric", "value"])
