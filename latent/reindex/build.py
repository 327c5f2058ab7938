"""Build a collection from another's stored documents: no source files, page by page, resumable.

Each page is one upsert (one transaction), so an interrupted build keeps every finished page and a
re-run skips them by content hash; documents deleted from the source since are deleted from the target.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass

from sqlalchemy import select

from latent.errors import Conflict, InvalidInput
from latent.jobs import JobCancelled, Progress, ShouldStop
from latent.records import DocumentInput
from latent.store.alias_models import is_alias
from latent.store.collection import Collection
from latent.store.models import DocumentRow
from latent.store.store import Store


@dataclass(slots=True)
class BuildSummary:
    source: str
    target: str
    model: str
    backend: str
    index: str
    created: bool = False  # False: the target existed (a resumed or repeated build)
    documents: int = 0  # read from the source
    embedded: int = 0  # new or changed in the target, embedded by this run
    unchanged: int = 0  # already in the target with the same content (skipped by hash)
    metadata_updated: int = 0  # same content, new metadata: updated without re-embedding
    removed: int = 0  # in the target but no longer in the source
    chunks: int = 0
    tokens: int = 0
    seconds: float = 0.0


def pages(collection: Collection, size: int) -> Iterator[list[DocumentInput]]:
    """The collection's documents in id order, `size` at a time (keyset paging: writes meanwhile never
    make a page skip or repeat a document)."""
    columns = (DocumentRow.id, DocumentRow.external_id, DocumentRow.title, DocumentRow.text, DocumentRow.metadata_)
    last = 0
    while True:
        stmt = (
            select(*columns)
            .where(DocumentRow.collection_id == collection.id, DocumentRow.id > last)
            .order_by(DocumentRow.id)
            .limit(size)
        )
        with collection.sessions() as s:
            rows = s.execute(stmt).all()
        if not rows:
            return
        last = rows[-1].id
        yield [
            DocumentInput(id=r.external_id, title=r.title, text=r.text, metadata=dict(r.metadata_ or {})) for r in rows
        ]


def open_target(
    store: Store, source: Collection, target: str, model: str | None, backend: str | None, index: str | None
) -> tuple[Collection, bool]:
    """The target collection, created with the source's model, backend and index unless told otherwise;
    an existing target (a resumed build) is opened as it is."""
    with store.sessions() as s:
        if is_alias(s, target):
            raise Conflict(
                f"{target!r} is an alias: reindex into a new collection name and switch the alias with --alias",
                code="alias_exists",
                details={"alias": target},
            )
    existed = any(c.name == target for c in store.list_collections())
    if target == source.name:
        raise InvalidInput("reindex needs another collection to build into", code="invalid_reindex_target")
    if not source.model and model is None:  # a bring-your-own-vectors collection: nothing to re-embed with
        raise InvalidInput(
            f"collection {source.name!r} has no model (its documents brought their own vectors): give --model",
            code="no_encoder",
            details={"collection": source.name},
        )
    if existed:  # resuming: the target keeps what it was created with (a different --model is a 409)
        return store.create_collection(target, model=model, exist_ok=True), False
    collection = store.create_collection(
        target,
        model=model or source.model,
        backend=backend or (source.backend if model is None else None),
        index=index or source.index_spec,
    )
    return collection, True


def build(
    store: Store,
    source: Collection,
    target: str,
    *,
    model: str | None = None,
    backend: str | None = None,
    index: str | None = None,
    batch_docs: int = 256,
    progress: Progress | None = None,
    should_stop: ShouldStop | None = None,
) -> BuildSummary:
    """Upsert every document of `source` into `target` (created if missing); re-runs resume."""
    if not 1 <= batch_docs <= 10_000:
        raise InvalidInput("batch_docs must be between 1 and 10000", code="invalid_batch_docs")
    dest, created = open_target(store, source, target, model, backend, index)
    summary = BuildSummary(source.name, dest.name, dest.model, dest.backend, dest.index_spec, created=created)
    total = source.count()
    start = time.perf_counter()
    seen: set[str] = set()
    for docs in pages(source, batch_docs):
        if should_stop is not None and should_stop():
            raise JobCancelled("reindex stopped on request; run it again to resume")
        result = dest.upsert(docs)
        seen.update(d.id for d in docs)
        summary.documents += len(docs)
        summary.embedded += result.upserted
        summary.unchanged += result.unchanged
        summary.metadata_updated += result.metadata_updated
        summary.chunks += result.chunks_added
        summary.tokens += result.tokens
        if progress is not None:
            progress(summary.documents / max(total, 1), f"{summary.documents}/{total} documents")
    stale = [ext for ext in _external_ids(dest) if ext not in seen]
    if stale:
        summary.removed = dest.delete(stale)
    dest.checkpoint()
    summary.seconds = round(time.perf_counter() - start, 3)
    return summary


def _external_ids(collection: Collection) -> list[str]:
    with collection.sessions() as s:
        return list(s.scalars(select(DocumentRow.external_id).where(DocumentRow.collection_id == collection.id)))
