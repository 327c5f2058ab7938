"""A collection's in-memory vector index, kept in step with SQL by replaying change-sequence numbers."""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from latent.index import VectorIndex, create_index, deserialize_index
from latent.store.indexfile import read_index_file, remove_leftover_temp_files, write_index_file
from latent.store.locks import ReadWriteLock
from latent.store.models import ChunkRow, CollectionRow, VectorDeletionRow

log = logging.getLogger(__name__)
PAGE = 20_000


def decode_vectors(blobs: list[bytes], dimension: int) -> np.ndarray:
    if not blobs:
        return np.zeros((0, dimension), dtype=np.float32)
    return np.frombuffer(b"".join(blobs), dtype=np.float32).reshape(len(blobs), dimension)


class VectorState:
    """Owns the index; `catch_up` replays SQL changes newer than `applied_seq` (other writers, crashes)."""

    def __init__(self, collection_id: int, spec: str, dimension: int, path: Path, sessions: sessionmaker):
        self.collection_id = collection_id
        self.spec = spec
        self.dimension = dimension
        self.path = path
        self.sessions = sessions
        self.lock = ReadWriteLock()
        self.index: VectorIndex = create_index(spec, dimension)
        self.applied_seq = 0
        self.persisted_seq = -1
        self.last_persist = time.monotonic()
        self.loaded_from = "empty"

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
        self.catch_up()
        if self.loaded_from == "rebuilt" and self.path.exists():
            self.persist()  # replace the unreadable file now, or `latent check` keeps finding it

    def sql_seq(self, session: Session) -> int:
        return int(session.scalar(select(CollectionRow.seq).where(CollectionRow.id == self.collection_id)) or 0)

    def catch_up(self) -> bool:
        """Apply committed changes this process has not seen; True when anything was applied."""
        with self.sessions() as session:
            if self.sql_seq(session) <= self.applied_seq:
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
            if getattr(self.index, "rebuild_needed", lambda: False)():
                self._rebuild_locked()
            return True

    def _replay_locked(self, session: Session, after: int, upto: int) -> None:
        removed = session.scalars(
            select(VectorDeletionRow.vector_id).where(
                VectorDeletionRow.collection_id == self.collection_id,
                VectorDeletionRow.seq > after,
                VectorDeletionRow.seq <= upto,
            )
        ).all()
        if removed:
            self.index.remove(np.asarray(removed, dtype=np.int64))
        for ids, vectors in self._chunk_pages(session, after, upto):
            # Idempotent: a change already mirrored (an interrupted apply) is not added twice.
            present = np.isin(ids, self.index.ids()) if len(self.index) else np.zeros(len(ids), bool)
            if present.any():
                ids, vectors = ids[~present], vectors[~present]
            self.index.add(ids, vectors)

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

    def ids(self) -> np.ndarray:
        with self.lock.read():
            return np.sort(np.asarray(self.index.ids(), dtype=np.int64))
