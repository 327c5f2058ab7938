"""`latent export` and the Parquet side of `latent index`: a collection to a Parquet file and back, reusing
the file's vectors when the target collection has the same model and backend (latent.exchange)."""

from __future__ import annotations

import itertools
import sys
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any

import typer

from indexer.cli_common import INTERRUPTED, CollectionOpt, JsonOpt, emit, fail, open_store
from indexer.sources import FieldMap, Item, parquet_items
from latent.errors import CollectionNotFound
from latent.exchange import ParquetDocuments
from latent.records import DocumentInput
from latent.store.collection import Collection
from latent.store.store import Store

HASH_LOOKUP = 1000  # at most this many documents per stored-hash lookup when counting what an import writes


def export(
    ctx: typer.Context,
    out: Annotated[Path, typer.Argument(help="Parquet file to write (replaced if it exists).")],
    collection: CollectionOpt,
    batch_docs: Annotated[
        int, typer.Option(help="Documents per row group (read from the store one page at a time).", min=1, max=100_000)
    ] = 1000,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No progress bar.")] = False,
    as_json: JsonOpt = False,
) -> None:
    """Export a collection to Parquet: one row per document with its chunk spans and vectors."""
    from latent.exchange import export_collection

    store = open_store(ctx)
    try:
        coll = store.collection(collection)
        bar = _bar(not quiet, coll.count(), f"exporting {collection}")
        done = [0]

        def progress(documents: int) -> None:
            if bar is not None:
                bar.update(documents - done[0])
            done[0] = documents

        try:
            summary = export_collection(coll, out, batch_docs=batch_docs, progress=progress)
        finally:
            if bar is not None:
                bar.close()
        info = {"model": coll.model, "backend": coll.backend, "dimension": coll.dimension, "metric": coll.metric}
    finally:
        store.close()
    data = summary.as_dict() | info
    if as_json:
        emit(data, True)
        return
    typer.echo(
        f"{collection}: exported {summary.documents} documents, {summary.chunks} chunks to {out} "
        f"({summary.bytes / 1e6:.1f} MB, {summary.row_groups} row groups) in {summary.seconds:.1f}s "
        f"({summary.docs_per_second:.0f} docs/s); vectors of {coll.model or 'no model'} on {coll.backend}"
    )


@dataclass(slots=True)
class VectorUse:
    """What the import did with the file's vectors (exact: counted against the stored content hashes)."""

    reused: int = 0  # documents written from the file's chunks and vectors
    embedded: int = 0  # documents written by chunking and embedding their text
    stale: int = 0  # rows edited after the export: their vectors no longer fit, so they were embedded
    reason: str = ""  # why the file's vectors were not used, when they were not

    def count(self, target: Collection, items: Iterable[Item], size: int) -> Iterator[Item]:
        """`items` unchanged, counting the documents the upsert will write, with or without vectors (one
        stored-hash lookup per `size` items: the pipeline's batch, so no batch waits on the next one)."""
        for group in _groups(items, size):
            docs = [d for d in group if isinstance(d, DocumentInput)]
            stored = target.stored_hashes([d.id for d in docs])
            for doc in docs:
                if stored.get(doc.id) != doc.content_hash():
                    if getattr(doc, "precomputed", None):
                        self.reused += 1
                    else:
                        self.embedded += 1
            yield from group


def _groups(items: Iterable[Item], size: int) -> Iterator[list[Item]]:
    it = iter(items)
    while group := list(itertools.islice(it, size)):
        yield group


def index_parquet(
    ctx: typer.Context,
    source: str,
    collection: str,
    fields: FieldMap,
    *,
    index_type: str | None,
    batch_docs: int,
    limit: int | None,
    strict: bool,
    quiet: bool,
    as_json: bool,
) -> None:
    """`latent index FILE.parquet`: stream the file by row group into the collection, storing the file's
    vectors as they are when its model, backend and dimension are the collection's, else embedding."""
    from indexer.pipeline import index_documents

    reader = ParquetDocuments(source, batch_rows=max(batch_docs, 1))  # a damaged file fails here: exit 2
    store = open_store(ctx)
    try:
        target = _target(store, collection, reader, index_type)
        use = VectorUse(reason=_why_not(reader, target))
        items: Iterable[Item] = parquet_items(reader, fields, reuse_vectors=not use.reason)
        if limit is not None:
            items = itertools.islice(items, limit)
        summary = index_documents(
            store,
            collection,
            use.count(target, items, min(batch_docs, HASH_LOOKUP)),
            batch_docs=batch_docs,
            strict=strict,
            progress=not quiet,
            total=reader.rows if limit is None else min(limit, reader.rows),
            create={"index": index_type},
        )
    finally:
        store.close()
    use.stale = reader.counts.stale_vectors
    data = summary.as_dict() | {"vectors": {"reused": use.reused, "embedded": use.embedded, "stale": use.stale}}
    data["vectors"]["not_reused_because"] = use.reason or None
    data["source"] = reader.info.as_dict() if reader.info is not None else None
    if as_json:
        emit(data, True)
    else:
        typer.echo(
            f"{collection}: indexed {summary.indexed} ({use.reused} from the file's vectors, {use.embedded} "
            f"embedded), unchanged {summary.unchanged}, metadata updated {summary.metadata_updated}, rejected "
            f"{summary.rejected}; {summary.chunks} chunks in {summary.seconds:.1f}s "
            f"({summary.docs_per_second:.1f} docs/s) with {summary.model or 'no model'} on {summary.backend}"
        )
        if use.reason:
            typer.echo(f"vectors not reused: {use.reason}", err=True)
    if summary.interrupted:
        typer.echo("interrupted: finished batches are stored; run the same command again to resume", err=True)
        raise typer.Exit(INTERRUPTED)
    if summary.indexed + summary.unchanged + summary.metadata_updated == 0:
        raise fail("no document could be indexed" if summary.rejected else f"{source} holds no documents")


def _target(store: Store, name: str, reader: ParquetDocuments, index_type: str | None) -> Collection:
    """The collection to import into; a new one takes the file's dimension and metric when the file is an
    export of a collection without an encoder (its vectors came from the user: nothing could embed them)."""
    try:
        return store.collection(name)
    except CollectionNotFound:
        pass
    info = reader.info
    if info is not None and info.model == "" and reader.has_vectors:
        return store.create_collection(
            name, exist_ok=True, index=index_type, dimension=info.dimension, metric=info.metric
        )
    return store.create_collection(name, exist_ok=True, index=index_type)


def _why_not(reader: ParquetDocuments, target: Collection) -> str:
    """Why the file's vectors cannot go into `target` as they are ("" when they can)."""
    info = reader.info
    if info is None or not reader.has_vectors:
        return "the file has no Latent vectors (not an export of `latent export`)"
    if reader.reusable_by(target.model, target.backend, target.dimension):
        return ""
    return (
        f"the file's vectors are {info.model or 'no model'} on {info.backend} ({info.dimension}-d), the collection "
        f"{target.name!r} is {target.model or 'no model'} on {target.backend} ({target.dimension}-d)"
    )


def _bar(enabled: bool, total: int, desc: str) -> Any:
    if not enabled:
        return None
    from tqdm import tqdm

    return tqdm(total=total, desc=desc, unit="doc", file=sys.stderr, dynamic_ncols=True, mininterval=0.5)
