"""Collections and documents beyond indexing, and the encoder itself, from the command line.

`latent create-collection`, `latent info`, `latent documents list|get|delete`, `latent search-batch`,
`latent embed`, `latent tokenize`: each calls the core the way the matching HTTP route does.
"""

from __future__ import annotations

from dataclasses import asdict
from typing import Annotated, Any

import typer

from indexer.cli_common import CollectionOpt, JsonOpt, emit, exit_codes, settings_for
from indexer.cli_recommend import parse_filter
from latent.embedder.base import Encoder
from latent.errors import InvalidInput
from latent.limits import check_batch, check_search
from latent.records import CollectionInfo, DocumentRecord
from latent.store.store import Store

documents_app = typer.Typer(help="Documents of a collection: list, show one, delete by filter.")

FilterOpt = Annotated[str | None, typer.Option(help='Metadata filter as JSON, e.g. \'{"year": {"$gte": 2020}}\'.')]
TextsArg = Annotated[list[str], typer.Argument(help="Texts (one or many).")]
OptionalCollection = Annotated[
    str | None, typer.Option("--collection", "-c", help="Use this collection's model (default: the settings' model).")
]


def _info_dict(info: CollectionInfo) -> dict[str, Any]:
    return asdict(info)


def create_collection(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(help="Letters, digits, '_', '-', '.'; at most 128 characters.")],
    model: Annotated[str | None, typer.Option(help="Embedding model (default: the settings' model).")] = None,
    index: Annotated[str | None, typer.Option("--index", help="flat | hnsw | ivf-pq | auto, with params.")] = None,
    dimension: Annotated[
        int | None, typer.Option(help="Vector width; without --model a bring-your-own-vectors collection.")
    ] = None,
    metric: Annotated[str | None, typer.Option(help="cosine | dot | l2.")] = None,
    as_json: JsonOpt = False,
) -> None:
    """Create an empty collection. Exit 1: the name is taken; 2: invalid options."""
    with exit_codes(), Store(settings_for(ctx)) as store:
        info = store.create_collection(name, model=model, index=index, dimension=dimension, metric=metric).info()
    _show_info(info, as_json)


def info(ctx: typer.Context, collection: CollectionOpt, as_json: JsonOpt = False) -> None:
    """One collection: model, backend, dimension, metric, index, sizes. Exit 1: no such collection."""
    with exit_codes(), Store(settings_for(ctx)) as store:
        data = store.collection(collection).info()
    _show_info(data, as_json)


def _show_info(data: CollectionInfo, as_json: bool) -> None:
    fields = _info_dict(data)
    emit(fields, as_json, [[k, v] for k, v in fields.items()], ["field", "value"])


def _document_dict(r: DocumentRecord) -> dict[str, Any]:
    return asdict(r)


@documents_app.command("list")
def documents_list(
    ctx: typer.Context,
    collection: CollectionOpt,
    filter: FilterOpt = None,
    offset: Annotated[int, typer.Option(help="Documents to skip.", min=0)] = 0,
    limit: Annotated[int, typer.Option(help="Documents per page.", min=1, max=1000)] = 100,
    as_json: JsonOpt = False,
) -> None:
    """One page of documents (optionally filtered) and how many match."""
    with exit_codes(), Store(settings_for(ctx)) as store:
        records, total = store.collection(collection).list_documents(offset, limit, parse_filter(filter))
    rows = [[r.id, r.chunk_count, r.token_count, (r.title or "")[:60]] for r in records]
    emit(
        {"data": [_document_dict(r) for r in records], "count": total},
        as_json,
        rows,
        ["id", "chunks", "tokens", "title"],
    )


@documents_app.command("get")
def documents_get(
    ctx: typer.Context,
    doc_id: Annotated[str, typer.Argument(help="The document's id.")],
    collection: CollectionOpt,
    as_json: JsonOpt = False,
) -> None:
    """One document with its text and metadata. Exit 1: no such document."""
    with exit_codes(), Store(settings_for(ctx)) as store:
        record = store.collection(collection).get(doc_id)
    fields = _document_dict(record)
    emit(fields, as_json, [[k, v] for k, v in fields.items()], ["field", "value"])


@documents_app.command("delete")
def documents_delete(
    ctx: typer.Context,
    collection: CollectionOpt,
    filter: Annotated[str, typer.Option(help="Delete every document matching this metadata filter (JSON).")],
    as_json: JsonOpt = False,
) -> None:
    """Delete the documents a filter selects (by id: `latent delete --id`)."""
    with exit_codes(), Store(settings_for(ctx)) as store:
        deleted = store.collection(collection).delete_where(parse_filter(filter) or {})
    if as_json:
        emit({"deleted": deleted}, True)
    else:
        typer.echo(f"deleted: {deleted}")


def search_batch(
    ctx: typer.Context,
    queries: Annotated[list[str], typer.Argument(help="Query texts, encoded in one batch.")],
    collection: CollectionOpt,
    k: Annotated[int, typer.Option("-k", help="Hits per query.")] = 10,
    mode: Annotated[str, typer.Option(help="dense | sparse | hybrid.")] = "dense",
    filter: FilterOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Many queries in one call: encoded in one batch and searched in one index call."""
    from latent.search import SearchOptions, search_many

    with exit_codes():
        settings = settings_for(ctx)
        check_batch(settings, len(queries), "queries")
        check_search(settings, k, 0, queries)
        options = SearchOptions(k=k, mode=mode, filter=parse_filter(filter))
        with Store(settings) as store:
            results = search_many(store.collection(collection), queries=queries, options=options)
    data = {
        "results": [{"query": q, "hits": [asdict(h) for h in hits]} for q, hits in zip(queries, results, strict=True)]
    }
    rows = [
        [q[:30], h.rank, f"{h.score:.4f}", h.id, (h.title or "")[:50]]
        for q, hits in zip(queries, results, strict=True)
        for h in hits
    ]
    emit(data, as_json, rows, ["query", "rank", "score", "id", "title"])


def _encoder(store: Store, collection: str | None) -> tuple[Encoder, int | None]:
    if collection is None:
        return store.encoder(), None
    c = store.collection(collection)
    return store.query_encoder(c.model, c.backend), c.chunk_tokens


def embed(
    ctx: typer.Context,
    texts: TextsArg,
    collection: OptionalCollection = None,
    as_json: JsonOpt = False,
) -> None:
    """Unit-length vectors of texts (`--json` prints them whole; the table shows their first values)."""
    with exit_codes():
        settings = settings_for(ctx)
        check_batch(settings, len(texts))
        if any(not t.strip() for t in texts):
            raise InvalidInput("texts must be non-empty strings", code="empty_text")
        with Store(settings) as store:
            encoder, _ = _encoder(store, collection)
            vectors = encoder.encode(list(texts))
    data = {"model": encoder.model_name, "dimension": encoder.dimension, "vectors": vectors.tolist()}
    rows = [[t[:40], ", ".join(f"{v:.3f}" for v in vec[:4]) + ", …"] for t, vec in zip(texts, vectors, strict=True)]
    emit(data, as_json, rows, ["text", f"{encoder.model_name} ({encoder.dimension}-d)"])


def tokenize(
    ctx: typer.Context,
    texts: TextsArg,
    collection: OptionalCollection = None,
    as_json: JsonOpt = False,
) -> None:
    """Tokens and ids (no special tokens); `chunked` says whether indexing would split the text."""
    from latent.ingest.tokens import token_reports

    with exit_codes():
        settings = settings_for(ctx)
        check_batch(settings, len(texts))
        with Store(settings) as store:
            encoder, chunk_tokens = _encoder(store, collection)
            budget, reports = token_reports(encoder, list(texts), chunk_tokens)
    data = {
        "model": encoder.model_name,
        "max_tokens": budget,
        "results": [{"tokens": r.tokens, "ids": r.ids, "count": r.count, "chunked": r.chunked} for r in reports],
    }
    rows = [[t[:40], r.count, r.chunked, " ".join(r.tokens[:8])] for t, r in zip(texts, reports, strict=True)]
    emit(data, as_json, rows, ["text", "tokens", "chunked", "first tokens"])
