"""A collection's in-memory vector index, kept in step with SQL by replaying change-sequence numbers."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any, TypeVar

import numpy as np
from sqlalchemy import select, update
from sqlalchemy.orm import Session, sessionmaker

from latent.index import SearchResult, VectorIndex, create_index, deserialize_index
from latent.store.indexfile import read_index_file, remove_leftover_temp_files, write_index_file
from latent.store.locks import ReadWriteLock
from latent.store.models import ChunkRow, CollectionRow, VectorDeletionRow
from latent.threads import limit_faiss_threads
from latent.vectors import unit_rows

log = logging.getLogger(__name__)
K = TypeVar("K", str, int)  # a document's external id or its row id
PAGE = 20_000
# Ids per `IN (...)` when fetching exact vectors for re-ranking (well under every SQL bind limit).
IN_BATCH = 10_000


def decode_vectors(blobs: list[bytes], dimension: int) -> np.ndarray:
    if not blobs:
        return np.zeros((0, dimension), dtype=np.float32)
    return np.frombuffer(b"".join(blobs), dtype=np.float32).reshape(len(blobs), dimension)


def document_means(rows: Iterable[tuple[K, bytes]], dimension: int) -> tuple[list[K], np.ndarray]:
    """(document key, chunk vector) rows, grouped by document -> the keys and each one's unit mean vector."""
    ids: list[K] = []
    blobs: list[list[bytes]] = []
    for ext, blob in rows:
        if not ids or ids[-1] != ext:
            ids.append(ext)
            blobs.append([])
        blobs[-1].append(blob)
    if not ids:
        return [], np.zeros((0, dimension), dtype=np.float32)
    chunks = [decode_vectors(b, dimension) for b in blobs]
    return ids, unit_rows(np.stack([c.mean(axis=0) if len(c) > 1 else c[0] for c in chunks]))


def _compactable(index: Any) -> Any:
    """The index (or auto's current backend) that can compact itself from its own live vectors, or None."""
    for candidate in (index, getattr(index, "inner", None)):
        if candidate is not None and hasattr(candidate, "compacted"):
            return candidate
    return None


class VectorState:
    """Owns the index; `catch_up` replays SQL changes newer than `applied_seq` (other writers, crashes).

    Indexes that keep only compressed codes (IVF-PQ, also inside 'auto') get `exact_vectors` as their
    `vector_source`, so searches re-rank candidates with the float32 vectors stored in SQL.
    """

    def __init__(
        self,
        collection_id: int,
        spec: str,
        dimension: int,
        path: Path,
        sessions: sessionmaker,
        faiss_threads: int | None = None,
    ):
        self.collection_id = collection_id
        self.spec = spec
        self.dimension = dimension
        self.path = path
        self.sessions = sessions
        self.faiss_threads = faiss_threads  # OpenMP threads per search (None: FAISS's default)
        self.lock = ReadWriteLock()
        self.index: VectorIndex = create_index(spec, dimension)
        self.applied_seq = 0
        self.persisted_seq = -1
        self.last_persist = time.monotonic()
        self.loaded_from = "empty"
        self._compacting = threading.Lock()
        self._attach_source()

    def open(self) -> None:
        """Load the file if it is sound and matches the spec, else rebuild from SQL; then replay."""
        remove_leftover_temp_files(self.path)
        stored = read_index_file(self.path)
        with self.lock.write():
            if stored is not None and stored.spec == self.spec:
                try:
                    self.index = deserialize_index(self.spec, self.dimension, stored.payload)
                    self.applied_seq = self.persisted_seq = stored.seq
                    self.loaded_from = "file"
                except Exception:  # a file FAISS cannot parse is just a stale cache
                    log.warning("index file %s unreadable; rebuilding from SQL", self.path)
                    stored = None
            if stored is None or stored.spec != self.spec:
                self._rebuild_locked()
            self._attach_source()
        self.catch_up()
        if self.loaded_from == "rebuilt" and self.path.exists():
            self.persist()  # replace the unreadable file now, or `latent check` keeps finding it

    def sql_seq(self, session: Session) -> int:
        return int(session.scalar(select(CollectionRow.seq).where(CollectionRow.id == self.collection_id)) or 0)

    def catch_up(self, sql_seq: int | None = None) -> bool:
        """Apply committed changes this process has not seen; True when anything was applied.

        Args:
            sql_seq: the collection's seq just read from SQL by the caller (saves reading it again).
        """
        if sql_seq is None:
            with self.sessions() as session:
                sql_seq = self.sql_seq(session)
        if sql_seq <= self.applied_seq:
            return False
        with self.lock.write(), self.sessions() as session, session.begin():
            target = self.sql_seq(session)
            if target <= self.applied_seq:
                return False
            if self.applied_seq > target:  # SQL went backwards (restored backup): trust SQL
                self._rebuild_locked()
                return True
            self._replay_locked(session, self.applied_seq, target)
            self.applied_seq = target
            self._attach_source()
        self.compact_if_needed()
        return True

    def search(self, queries: np.ndarray, k: int, allowed: np.ndarray | None = None) -> SearchResult:
        """`index.search` under the read lock, with the calling thread's FAISS threads capped.

        Every search of a collection's index goes through here (search, recommendations, profiles, the
        VAE's grounding), so none runs FAISS's OpenMP team uncapped; the cap is per thread, and setting it
        again in the same thread is free.
        """
        if self.faiss_threads is not None:
            limit_faiss_threads(self.faiss_threads)
        with self.lock.read():
            return self.index.search(queries, k, allowed)

    def _replay_locked(self, session: Session, after: int, upto: int, index: Any = None) -> None:
        index = self.index if index is None else index
        removed = session.scalars(
            select(VectorDeletionRow.vector_id).where(
                VectorDeletionRow.collection_id == self.collection_id,
                VectorDeletionRow.seq > after,
                VectorDeletionRow.seq <= upto,
            )
        ).all()
        if removed:
            index.remove(np.asarray(removed, dtype=np.int64))
        for ids, vectors in self._chunk_pages(session, after, upto):
            # Idempotent: a change already mirrored (an interrupted apply) is not added twice.
            present = np.isin(ids, index.ids()) if len(index) else np.zeros(len(ids), bool)
            if present.any():
                ids, vectors = ids[~present], vectors[~present]
            index.add(ids, vectors)

    def _chunk_pages(self, session: Session, after: int, upto: int) -> Iterator[tuple[np.ndarray, np.ndarray]]:
        last_id = -1
        while True:
            rows = session.execute(
                select(ChunkRow.id, ChunkRow.vector)
                .where(
                    ChunkRow.collection_id == self.collection_id,
                    ChunkRow.seq > after,
                    ChunkRow.seq <= upto,
                    ChunkRow.id > last_id,
                )
                .order_by(ChunkRow.id)
                .limit(PAGE)
            ).all()
            if not rows:
                return
            last_id = rows[-1][0]
            yield np.array([r[0] for r in rows], dtype=np.int64), decode_vectors([r[1] for r in rows], self.dimension)

    def _rebuild_locked(self) -> None:
        """A fresh index from every chunk row: the repair for a missing, stale or corrupt file."""
        with self.sessions() as session, session.begin():
            target = self.sql_seq(session)
            self.index = create_index(self.spec, self.dimension)
            for ids, vectors in self._chunk_pages(session, -1, target):
                self.index.add(ids, vectors)
            self.applied_seq = target
        self.persisted_seq = -1
        self.loaded_from = "rebuilt"
        self._attach_source()

    def rebuild(self) -> None:
        with self.lock.write():
            self._rebuild_locked()

    def apply(self, removed: np.ndarray, added_ids: np.ndarray, added_vectors: np.ndarray, seq: int) -> None:
        """Mirror a just-committed SQL change; the caller holds the collection's writer lock."""
        with self.lock.write():
            if seq <= self.applied_seq:  # a concurrent catch_up (a search) already replayed it from SQL
                return
            if len(removed):
                self.index.remove(removed)
            if len(added_ids):
                self.index.add(added_ids, added_vectors)
            self.applied_seq = seq
            self._attach_source()  # 'auto' may have moved to a new backend
        self.compact_if_needed()  # a process that only writes must compact too

    def compact_if_needed(self) -> bool:
        """Rebuild a tombstone-heavy index (`rebuild_needed()`) from its own live vectors; True when done.

        The new index is built under the read lock, so searches go on meanwhile, and swapped in under the
        write lock after replaying from SQL whatever was applied in between. Only memory changes (same ids,
        same seq): SQL stays the truth and the file on disk stays valid for the seq it records; the next
        `persist` writes the compact index. An index that cannot compact itself is rebuilt from SQL instead.
        """
        if not self._compacting.acquire(blocking=False):  # another thread is compacting already
            return False
        try:
            with self.lock.read():
                index, seq = self.index, self.applied_seq
                if not getattr(index, "rebuild_needed", lambda: False)():
                    return False
                target = _compactable(index)
                fresh = target.compacted() if target is not None else None
            if fresh is None:
                self.rebuild()
                return True
            with self.lock.write():
                if self.index is not index or _compactable(index) is not target:
                    return False  # replaced meanwhile (a rebuild, or auto moved to another backend)
                if self.applied_seq != seq:  # changes applied while it was built: they are in SQL too
                    with self.sessions() as session, session.begin():
                        self._replay_locked(session, seq, self.applied_seq, fresh)
                if target is index:
                    self.index = fresh
                else:
                    index.inner = fresh
                self.persisted_seq = -1  # the file still holds the tombstones: write the compact one
            log.info("compacted %s index of collection %s: %d live vectors", self.spec, self.collection_id, len(fresh))
            return True
        finally:
            self._compacting.release()

    def _attach_source(self) -> None:
        """Give an index that keeps only codes (IVF-PQ, also as auto's backend) the SQL rows to re-rank with."""
        for index in (self.index, getattr(self.index, "inner", None)):
            if index is not None and hasattr(index, "vector_source"):
                index.vector_source = self.exact_vectors

    def exact_vectors(self, ids: np.ndarray) -> np.ndarray:
        """The stored float32 vectors of unique chunk ids, one row each in the order given (one `IN` query
        per 10k ids). Ids no longer in SQL (deleted after the index answered) get a row of NaN."""
        ids = np.asarray(ids, dtype=np.int64).reshape(-1)
        out = np.full((len(ids), self.dimension), np.nan, dtype=np.float32)
        order = np.argsort(ids, kind="stable")
        ordered = ids[order]
        with self.sessions() as session:
            for lo in range(0, len(ordered), IN_BATCH):
                part = ordered[lo : lo + IN_BATCH].tolist()
                # by primary key only: with `collection_id = ?` in the WHERE, SQLite picks the
                # (collection_id, seq) index and scans the whole collection (9 ms vs 0.25 ms at 50k rows)
                rows = session.execute(
                    select(ChunkRow.id, ChunkRow.vector, ChunkRow.collection_id).where(ChunkRow.id.in_(part))
                ).all()
                rows = [r for r in rows if r[2] == self.collection_id]
                if rows:
                    found = np.fromiter((r[0] for r in rows), dtype=np.int64, count=len(rows))
                    out[order[np.searchsorted(ordered, found)]] = decode_vectors([r[1] for r in rows], self.dimension)
        return out

    def persist(self, force: bool = False, every_seconds: float = 0.0) -> bool:
        """Write the index file (atomically, with the seq it covers) when it is behind."""
        if self.persisted_seq == self.applied_seq and not force:
            return False
        if not force and time.monotonic() - self.last_persist < every_seconds:
            return False
        with self.lock.read():
            payload, seq = self.index.serialize(), self.applied_seq
        write_index_file(self.path, self.spec, seq, payload)
        self.persisted_seq = seq
        self.last_persist = time.monotonic()
        return True

    def measure_recall_if_stale(self, queries: int = 200, k: int = 10) -> dict[str, Any] | None:
        """Approximate indexes measure their recall@k against exact search over the SQL vectors, after a
        build and again once the collection changed by more than 10%; stored in the collection's `index_info`."""
        if self.index.kind in ("flat", "numpy"):
            return None
        where = CollectionRow.id == self.collection_id
        with self.sessions() as s:
            info = dict(s.scalar(select(CollectionRow.index_info).where(where)) or {})
        n = len(self.index)
        last = info.get("recall_measured_at_vectors") or 0
        if n == 0 or (last and abs(n - last) <= 0.1 * last):
            return None
        from latent.index.recall import measure_recall, sample_queries

        with self.sessions() as s:
            pages = list(self._chunk_pages(s, -1, self.sql_seq(s)))
        ids = np.concatenate([p[0] for p in pages])
        vecs = np.vstack([p[1] for p in pages])
        with self.lock.read():
            recall = measure_recall(self.index, sample_queries(vecs, queries), k, ids=ids, vectors=vecs)
        info.update(
            {f"recall@{k}": round(recall, 4), "recall_measured_at_vectors": n, "recall_queries": min(queries, n)}
        )
        with self.sessions() as s, s.begin():
            s.execute(update(CollectionRow).where(where).values(index_info=info))
        return info

    def ids(self) -> np.ndarray:
        with self.lock.read():
            return np.sort(np.asarray(self.index.ids(), dtype=np.int64))
