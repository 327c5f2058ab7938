"""A collection's chunk index seen as one vector per document, so recommendations rank documents."""

from __future__ import annotations

import threading
import weakref
from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np
from sqlalchemy import select

from latent.index.base import SearchResult, as_ids, empty_result
from latent.store.collection import Collection
from latent.store.models import ChunkRow, DocumentRow
from latent.store.vectors import document_means
from latent.vectors import as_vectors

SQL_BATCH = 5000  # ids per IN (...) list: SQLite caps the bound parameters of one statement
# Documents gathered beyond the k wanted (at most k more), then ranked exactly by their document vectors:
# a document whose best chunk ranks just below the k-th may still have the better mean vector.
MARGIN = 10
# Shared between requests, per open collection: bounded, and simply emptied when full.
CACHED_CHUNKS = 1_000_000
CACHED_DOCUMENTS = 50_000


class SharedCache:
    """What one request learns that the next can reuse, per open collection.

    chunk id -> document row id never changes (chunks are immutable and ids are never reused). A
    document's vector changes only when a write replaces its chunks, and every new chunk row carries the
    seq of its write: so when the collection's seq moves on, the documents owning chunks newer than the
    cached seq are dropped. Deleted documents need no eviction: their row ids never come back.
    """

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.seq = -1
        self.owners: dict[int, int] = {}
        self.vectors: dict[int, np.ndarray] = {}

    def refresh(self, collection: Collection) -> None:
        seq = collection.vectors.applied_seq
        if seq == self.seq:
            return
        with self.lock:
            if seq == self.seq:
                return
            if self.seq < 0 or seq < self.seq:  # first use, or SQL went backwards (a restored backup)
                self.vectors.clear()
            elif self.vectors:
                with collection.sessions() as s:
                    changed = s.scalars(
                        select(ChunkRow.document_id)
                        .where(ChunkRow.collection_id == collection.id, ChunkRow.seq > self.seq)
                        .distinct()
                    ).all()
                for doc in changed:
                    self.vectors.pop(int(doc), None)
            self.seq = seq

    def keep_owners(self, owners: dict[int, int]) -> None:
        if len(self.owners) + len(owners) > CACHED_CHUNKS:
            self.owners = {}
        self.owners.update(owners)

    def keep_vectors(self, vectors: dict[int, np.ndarray]) -> None:
        if len(self.vectors) + len(vectors) > CACHED_DOCUMENTS:
            self.vectors = {}
        self.vectors.update(vectors)


_caches: weakref.WeakKeyDictionary[Collection, SharedCache] = weakref.WeakKeyDictionary()
_caches_lock = threading.Lock()


def shared_cache(collection: Collection) -> SharedCache:
    with _caches_lock:
        cache = _caches.get(collection)
        if cache is None:
            cache = _caches[collection] = SharedCache()
        return cache


class DocumentIndex:
    """A read-only `VectorIndex` view whose ids are document row ids (`latent.recommend.strategies` takes any index).

    The FAISS index holds chunk vectors: a long document has several. A search here finds chunks, keeps
    each document once (over-fetching until every query has k + min(k, MARGIN) documents or the index
    is exhausted), then ranks those documents by their document vector, the normalised mean of their
    chunks (as `Collection.document_vectors`). Candidates, scores and exclusions are therefore per
    document. The vectors fetched on the way are kept for `vectors`, the `candidate_vectors` callback of
    `recommend`. One instance serves one request: it snapshots the filter's documents when built.
    """

    kind = "documents"

    def __init__(self, collection: Collection, filter: dict[str, Any] | None = None):
        self.collection = collection
        self.dimension = collection.dimension
        self.external: dict[int, str] = {}  # document row id -> external id, filled by `external_ids`
        self._vectors: dict[int, np.ndarray] = {}
        collection.vectors.catch_up()
        self._shared = shared_cache(collection)
        self._shared.refresh(collection)
        self._chunk_ids: np.ndarray | None = None
        self._chunk_docs: np.ndarray | None = None
        self.allowed: np.ndarray | None = None  # the filter's document row ids (None: every document)
        clause = collection.filters.compile(filter)
        if clause is not None:
            with collection.sessions() as s:
                rows = s.execute(
                    select(ChunkRow.id, ChunkRow.document_id)
                    .join(DocumentRow, DocumentRow.id == ChunkRow.document_id)
                    .where(ChunkRow.collection_id == collection.id, clause)
                ).all()
            self._chunk_ids = np.asarray([r[0] for r in rows], dtype=np.int64)
            self._chunk_docs = np.asarray([r[1] for r in rows], dtype=np.int64)
            self.allowed = np.unique(self._chunk_docs)
            self._size = len(self.allowed)
        else:
            self._size = collection.count()

    def __len__(self) -> int:
        return self._size

    def search(self, queries: np.ndarray, k: int, allowed: np.ndarray | None = None) -> SearchResult:
        """Top-k documents per query by the inner product of the query with each document vector."""
        queries = as_vectors(queries, self.dimension, min_rows=0)
        out = empty_result(len(queries), k)
        chunk_allowed = self._chunks_of(as_ids(allowed)) if allowed is not None else None
        index = self.collection.vectors.index
        total = len(index) if chunk_allowed is None else len(chunk_allowed)
        if total == 0 or k < 1:
            return out
        want = k + min(k, MARGIN)
        fetch = min(max(2 * want + 10, 32), total)
        while True:
            found = self.collection.vectors.search(queries, fetch, chunk_allowed)
            owners = self._owners(np.unique(found.ids[found.ids >= 0]))
            per_query: list[list[int]] = []
            for ids in found.ids:
                docs = dict.fromkeys(owners[int(v)] for v in ids if v >= 0 and int(v) in owners)
                per_query.append(list(docs)[:want])
            if all(len(d) >= min(want, self._size) for d in per_query) or fetch >= total:
                break
            fetch = min(fetch * 4, total)
        self._load({d for docs in per_query for d in docs})
        for row, (query, docs) in enumerate(zip(queries, per_query, strict=True)):
            docs = [d for d in docs if d in self._vectors]  # deleted since the chunk search
            if not docs:
                continue
            ids = np.asarray(docs, dtype=np.int64)
            scores = np.stack([self._vectors[d] for d in docs]) @ query
            best = np.lexsort((ids, -scores))[:k]
            out.ids[row, : len(best)] = ids[best]
            out.scores[row, : len(best)] = scores[best]
        return out

    def vectors(self, ids: np.ndarray) -> np.ndarray:
        """Document vectors for row ids, in order; one deleted meanwhile gets zeros (never returned)."""
        ids = as_ids(ids)
        self._load({int(i) for i in ids if int(i) not in self._vectors})
        zero = np.zeros(self.dimension, dtype=np.float32)
        if not len(ids):
            return np.zeros((0, self.dimension), dtype=np.float32)
        return np.stack([self._vectors.get(int(i), zero) for i in ids])

    def document_vectors(self, rows: dict[str, int]) -> dict[str, np.ndarray]:
        """{external id: vector} for documents known by row id (`row_ids`); deleted ones are left out."""
        for ext, row in rows.items():
            self.external[row] = ext
        self._load(rows.values())
        return {ext: self._vectors[row] for ext, row in rows.items() if row in self._vectors}

    # ----- SQL ---------------------------------------------------------------------------------
    def _owners(self, chunk_ids: np.ndarray) -> dict[int, int]:
        """chunk id -> document row id (chunks deleted since the search are left out)."""
        known = self._shared.owners
        owners = {c: known[c] for c in chunk_ids.tolist() if c in known}
        learnt: dict[int, int] = {}
        with self.collection.sessions() as s:
            for part in _batches([c for c in chunk_ids.tolist() if c not in owners]):
                rows = s.execute(select(ChunkRow.id, ChunkRow.document_id).where(ChunkRow.id.in_(part))).all()
                learnt.update((int(vid), int(doc)) for vid, doc in rows)
        self._shared.keep_owners(learnt)
        return owners | learnt

    def external_ids(self, row_ids: Iterable[int]) -> dict[int, str]:
        """Document row id -> external id for the documents that still exist (learnt ones are kept)."""
        wanted = [int(r) for r in row_ids]
        unknown = [r for r in wanted if r not in self.external]
        with self.collection.sessions() as s:
            for part in _batches(unknown):
                rows = s.execute(select(DocumentRow.id, DocumentRow.external_id).where(DocumentRow.id.in_(part)))
                self.external.update((int(row), ext) for row, ext in rows.all())
        return {r: self.external[r] for r in wanted if r in self.external}

    def _chunks_of(self, doc_ids: np.ndarray) -> np.ndarray:
        if self._chunk_docs is not None and self._chunk_ids is not None:
            return self._chunk_ids[np.isin(self._chunk_docs, doc_ids)]
        chunks: list[int] = []
        with self.collection.sessions() as s:
            for part in _batches(doc_ids.tolist()):
                chunks += s.scalars(select(ChunkRow.id).where(ChunkRow.document_id.in_(part))).all()
        return np.asarray(chunks, dtype=np.int64)

    def _load(self, row_ids: Iterable[int]) -> None:
        """Document vectors by row id: from the shared cache, else one query per batch (means in NumPy)."""
        known = self._shared.vectors
        missing = []
        for r in row_ids:
            if r in self._vectors:
                continue
            if r in known:
                self._vectors[r] = known[r]
            else:
                missing.append(r)
        loaded: dict[int, np.ndarray] = {}
        with self.collection.sessions() as s:
            for part in _batches(sorted(missing)):
                rows = s.execute(
                    select(ChunkRow.document_id, ChunkRow.vector)
                    .where(ChunkRow.document_id.in_(part))
                    .order_by(ChunkRow.document_id, ChunkRow.ordinal)
                ).all()
                owners, means = document_means(rows, self.dimension)
                loaded.update(zip(owners, means, strict=True))
        self._vectors.update(loaded)
        self._shared.keep_vectors(loaded)


def row_ids(collection: Collection, external_ids: Iterable[str]) -> dict[str, int]:
    """External id -> document row id for the documents that exist."""
    wanted = list(dict.fromkeys(external_ids))
    found: dict[str, int] = {}
    with collection.sessions() as s:
        for part in _batches(wanted):
            found.update(
                s.execute(
                    select(DocumentRow.external_id, DocumentRow.id).where(
                        DocumentRow.collection_id == collection.id, DocumentRow.external_id.in_(part)
                    )
                ).all()
            )
    return found


def _batches(items: Sequence[Any]) -> Iterable[list[Any]]:
    items = list(items)
    for start in range(0, len(items), SQL_BATCH):
        yield items[start : start + SQL_BATCH]
