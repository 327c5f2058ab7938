"""A collection's writes and reads: upsert (hash-skip, chunk replacement), delete, fetch, vectors."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
from sqlalchemy import delete, func, insert, select, update
from sqlalchemy.orm import Session, sessionmaker

from latent.embedder.agreement import AgreedEncoder
from latent.embedder.base import Encoder
from latent.errors import DimensionMismatch, DocumentNotFound, InvalidInput
from latent.ingest.chunking import Chunk, chunk_budget, chunk_document, encode_chunks
from latent.records import (
    CollectionInfo,
    DocumentInput,
    DocumentRecord,
    PreparedDocument,
    UpsertPlan,
    UpsertResult,
)
from latent.store.base import utcnow
from latent.store.feature_models import ClusterAssignmentRow, ClusteringRow
from latent.store.filters import FilterCompiler
from latent.store.locks import WriterLock
from latent.store.models import ChunkRow, CollectionRow, DocumentRow, VectorDeletionRow
from latent.store.vectors import VectorState, decode_vectors

MAX_ID_CHARS = 512


class Collection:
    """Everything that touches one collection's rows and its index; safe to share between threads."""

    def __init__(
        self,
        row: CollectionRow,
        sessions: sessionmaker,
        encoder: Encoder,
        index_path: Path,
        lock_path: Path,
        dialect: str,
        max_filter_depth: int = 8,
        checkpoint_seconds: float = 30.0,
    ):
        self.id = row.id
        self.name = row.name
        self.model = row.model
        self.backend = row.backend
        self.dimension = row.dimension
        self.metric = row.metric
        self.index_spec = row.index_spec
        self.chunk_tokens = row.chunk_tokens
        self.chunk_overlap = row.chunk_overlap
        self.created_at = row.created_at
        self.sessions = sessions
        self.encoder = encoder  # writes (chunks, stored vectors): always the backend the collection was built with
        self.query_encoder: Encoder = encoder  # query texts; the Store puts an AgreedEncoder here for another backend
        self.dialect = dialect
        self.writer = WriterLock(lock_path)
        self.vectors = VectorState(row.id, row.index_spec, row.dimension, index_path, sessions)
        self.filters = FilterCompiler(
            dialect, max_depth=max_filter_depth, extra_fields={"cluster": self._cluster_condition}
        )
        self.checkpoint_seconds = checkpoint_seconds
        self.dir = index_path.parent  # per-collection files (maps, VAE checkpoints); the Store sets its own
        self.vectors.open()

    # ----- reads -------------------------------------------------------------------------------
    def info(self) -> CollectionInfo:
        self.vectors.catch_up()
        with self.sessions() as s:
            docs = s.scalar(select(func.count()).where(DocumentRow.collection_id == self.id)) or 0
            chunks = s.scalar(select(func.count()).where(ChunkRow.collection_id == self.id)) or 0
            index_info = s.scalar(select(CollectionRow.index_info).where(CollectionRow.id == self.id)) or {}
        stats = dict(self.vectors.index.stats())
        stats.update({k: v for k, v in index_info.items() if k not in stats})
        return CollectionInfo(
            name=self.name,
            model=self.model,
            backend=self.backend,
            dimension=self.dimension,
            metric=self.metric,
            index=self.index_spec,
            documents=int(docs),
            chunks=int(chunks),
            chunk_tokens=self.chunk_tokens,
            chunk_overlap=self.chunk_overlap,
            created_at=self.created_at,
            index_stats=stats,
            **self._query_info(),
        )

    def _query_info(self) -> dict[str, Any]:
        """The query backend and its measured agreement, when queries use another backend than writes."""
        if not isinstance(self.query_encoder, AgreedEncoder):
            return {}
        return {"query_backend": self.query_encoder.backend, "backend_agreement": self.query_encoder.report()}

    def get(self, external_id: str) -> DocumentRecord:
        found = self.get_many([external_id])
        if not found:
            raise DocumentNotFound([external_id], self.name)
        return found[0]

    def get_many(self, external_ids: Sequence[str]) -> list[DocumentRecord]:
        """Records for the ids that exist, in the order asked."""
        if not external_ids:
            return []
        with self.sessions() as s:
            rows = s.scalars(
                select(DocumentRow).where(
                    DocumentRow.collection_id == self.id, DocumentRow.external_id.in_(list(external_ids))
                )
            ).all()
        by_id = {r.external_id: _record(r) for r in rows}
        return [by_id[i] for i in external_ids if i in by_id]

    def list_documents(
        self, offset: int = 0, limit: int = 100, filter: dict | None = None
    ) -> tuple[list[DocumentRecord], int]:
        clause = self.filters.compile(filter)
        base = select(DocumentRow).where(DocumentRow.collection_id == self.id)
        if clause is not None:
            base = base.where(clause)
        with self.sessions() as s:
            total = s.scalar(select(func.count()).select_from(base.subquery())) or 0
            rows = s.scalars(base.order_by(DocumentRow.id).offset(offset).limit(limit)).all()
        return [_record(r) for r in rows], int(total)

    def count(self) -> int:
        with self.sessions() as s:
            return int(s.scalar(select(func.count()).where(DocumentRow.collection_id == self.id)) or 0)

    def allowed_vector_ids(self, filter: dict[str, Any] | None) -> np.ndarray | None:
        """Vector ids of the documents a filter keeps (None: no filter) — the pre-filter for FAISS."""
        clause = self.filters.compile(filter)
        if clause is None:
            return None
        with self.sessions() as s:
            ids = s.scalars(
                select(ChunkRow.id)
                .join(DocumentRow, DocumentRow.id == ChunkRow.document_id)
                .where(ChunkRow.collection_id == self.id, clause)
            ).all()
        return np.asarray(ids, dtype=np.int64)

    def document_vectors(self, external_ids: Sequence[str]) -> dict[str, np.ndarray]:
        """One unit vector per document: the normalised mean of its chunk vectors."""
        if not external_ids:
            return {}
        with self.sessions() as s:
            rows = s.execute(
                select(DocumentRow.external_id, ChunkRow.vector)
                .join(ChunkRow, ChunkRow.document_id == DocumentRow.id)
                .where(DocumentRow.collection_id == self.id, DocumentRow.external_id.in_(list(external_ids)))
                .order_by(DocumentRow.id, ChunkRow.ordinal)
            ).all()
        grouped: dict[str, list[bytes]] = {}
        for ext, blob in rows:
            grouped.setdefault(ext, []).append(blob)
        return {ext: _mean_unit(decode_vectors(blobs, self.dimension)) for ext, blobs in grouped.items()}

    def all_document_vectors(self) -> tuple[list[str], np.ndarray]:
        """Every document's id and vector, in insertion order (clustering, maps and the VAE train on these)."""
        with self.sessions() as s:
            rows = s.execute(
                select(DocumentRow.external_id, ChunkRow.vector)
                .join(ChunkRow, ChunkRow.document_id == DocumentRow.id)
                .where(DocumentRow.collection_id == self.id)
                .order_by(DocumentRow.id, ChunkRow.ordinal)
            ).all()
        ids: list[str] = []
        blobs: list[list[bytes]] = []
        for ext, blob in rows:
            if not ids or ids[-1] != ext:
                ids.append(ext)
                blobs.append([])
            blobs[-1].append(blob)
        if not ids:
            return [], np.zeros((0, self.dimension), dtype=np.float32)
        return ids, np.vstack([_mean_unit(decode_vectors(b, self.dimension)) for b in blobs])

    def chunk_documents(self, vector_ids: Sequence[int]) -> dict[int, tuple[int, str, int, int, int]]:
        """vector id -> (document row id, external id, ordinal, char_start, char_end)."""
        if not len(vector_ids):
            return {}
        with self.sessions() as s:
            rows = s.execute(
                select(
                    ChunkRow.id,
                    ChunkRow.document_id,
                    DocumentRow.external_id,
                    ChunkRow.ordinal,
                    ChunkRow.char_start,
                    ChunkRow.char_end,
                )
                .join(DocumentRow, DocumentRow.id == ChunkRow.document_id)
                .where(ChunkRow.id.in_([int(v) for v in vector_ids]))
            ).all()
        return {r[0]: (r[1], r[2], r[3], r[4], r[5]) for r in rows}

    # ----- clusters (the newest clustering run of the collection) ------------------------------
    def _newest_clustering(self) -> Any:
        return select(func.max(ClusteringRow.id)).where(ClusteringRow.collection_id == self.id).scalar_subquery()

    def _cluster_condition(self, op: str, arg: Any) -> Any:
        """`{"cluster": 3}` / `{"cluster": {"$in": [1, 2]}}`: members of the newest clustering's clusters."""
        values = arg if op in ("$in", "$nin") else [arg]
        if (
            op not in ("$eq", "$ne", "$in", "$nin")
            or not isinstance(values, list)
            or not all(isinstance(v, int) and not isinstance(v, bool) for v in values)
        ):
            raise InvalidInput(
                "field 'cluster' takes an integer cluster id with $eq, $ne, $in or $nin",
                code="invalid_filter",
                details={"field": "cluster", "operator": op},
            )
        members = select(ClusterAssignmentRow.document_id).where(
            ClusterAssignmentRow.clustering_id == self._newest_clustering(),
            ClusterAssignmentRow.cluster.in_(values),
        )
        clause = DocumentRow.id.in_(members)
        return clause if op in ("$eq", "$in") else ~clause

    def clusters_of(self, external_ids: Sequence[str]) -> dict[str, int]:
        """Cluster of each document in the newest clustering (documents it does not cover are left out)."""
        if not external_ids:
            return {}
        with self.sessions() as s:
            rows = s.execute(
                select(DocumentRow.external_id, ClusterAssignmentRow.cluster)
                .join(ClusterAssignmentRow, ClusterAssignmentRow.document_id == DocumentRow.id)
                .where(
                    DocumentRow.collection_id == self.id,
                    DocumentRow.external_id.in_(list(external_ids)),
                    ClusterAssignmentRow.clustering_id == self._newest_clustering(),
                )
            ).all()
        return {ext: int(cluster) for ext, cluster in rows}

    # ----- writes ------------------------------------------------------------------------------
    def prepare(
        self, docs: Sequence[DocumentInput], skip_hashes: dict[str, str] | None = None
    ) -> tuple[list[PreparedDocument], list[DocumentInput]]:
        """Chunk and embed the documents whose content changed; returns (prepared, unchanged).

        Runs without the writer lock: the expensive part (the encoder) overlaps other writers.
        """
        for doc in docs:
            validate_document(doc)
        stored = skip_hashes if skip_hashes is not None else self.stored_hashes([d.id for d in docs])
        changed = [d for d in docs if stored.get(d.id) != d.content_hash()]
        unchanged = [d for d in docs if stored.get(d.id) == d.content_hash()]
        if not changed:
            return [], unchanged
        per_doc = self.chunk(changed)
        vectors = encode_chunks(self.encoder, [c for chunks in per_doc for c in chunks])
        prepared, offset = [], 0
        for doc, chunks in zip(changed, per_doc, strict=True):
            spans = [(c.char_start, c.char_end, c.token_count) for c in chunks]
            prepared.append(PreparedDocument(doc, doc.content_hash(), spans, vectors[offset : offset + len(chunks)]))
            offset += len(chunks)
        return prepared, unchanged

    def chunk(self, docs: Sequence[DocumentInput]) -> list[list[Chunk]]:
        """The windows each document is embedded as (title-prefixed, overlapping, nothing dropped)."""
        budget = chunk_budget(self.encoder, self.chunk_tokens)
        title_toks = self.encoder.tokenize([d.title for d in docs])
        text_toks = self.encoder.tokenize([d.text for d in docs])
        return [
            chunk_document(d.title, d.text, tt, xt, budget, self.chunk_overlap)
            for d, tt, xt in zip(docs, title_toks, text_toks, strict=True)
        ]

    def stored_hashes(self, external_ids: Sequence[str]) -> dict[str, str]:
        if not external_ids:
            return {}
        with self.sessions() as s:
            rows = s.execute(
                select(DocumentRow.external_id, DocumentRow.content_hash).where(
                    DocumentRow.collection_id == self.id, DocumentRow.external_id.in_(list(external_ids))
                )
            ).all()
        return dict(rows)

    def commit(self, prepared: Sequence[PreparedDocument], metadata_only: Sequence[DocumentInput] = ()) -> UpsertResult:
        """Write prepared documents in one transaction, then mirror it in the index."""
        result = UpsertResult()
        if not prepared and not metadata_only:
            return result
        for p in prepared:
            if p.vectors.shape[1:] != (self.dimension,):
                raise DimensionMismatch(
                    f"vectors of dimension {p.vectors.shape[-1]} cannot go into {self.name!r} "
                    f"(model {self.model}, dimension {self.dimension})",
                    details={"expected": self.dimension, "got": int(p.vectors.shape[-1])},
                )
        with self.writer.hold():
            self.vectors.catch_up()
            with self.sessions() as s, s.begin():
                seq = _bump_seq(s, self.id)
                removed_ids, added_ids, added_vecs = self._write_locked(s, prepared, metadata_only, seq, result)
            self.vectors.apply(removed_ids, added_ids, added_vecs, seq)
            self.vectors.persist(every_seconds=self.checkpoint_seconds)
        return result

    def upsert(self, docs: Sequence[DocumentInput]) -> UpsertResult:
        """Insert or replace documents: unchanged content is skipped, changed content re-embedded."""
        return self.write_plan(self.plan_upsert(docs))

    def plan_upsert(self, docs: Sequence[DocumentInput]) -> UpsertPlan:
        """The embedding half of an upsert (no lock held), so a batch job can embed the next batch
        while the previous one is written. The plan is valid only if no write touches these ids first."""
        _check_unique(docs)
        prepared, unchanged = self.prepare(docs)
        stored_meta = self._stored_metadata([d.id for d in unchanged])
        metadata_only = [d for d in unchanged if stored_meta.get(d.id) != d.metadata]
        return UpsertPlan(prepared, unchanged, metadata_only)

    def write_plan(self, plan: UpsertPlan) -> UpsertResult:
        """The writing half of an upsert: one transaction, then the index."""
        result = self.commit(plan.prepared, plan.metadata_only)
        result.unchanged = len(plan.unchanged) - result.metadata_updated
        return result

    def _stored_metadata(self, external_ids: list[str]) -> dict[str, dict]:
        if not external_ids:
            return {}
        with self.sessions() as s:
            rows = s.execute(
                select(DocumentRow.external_id, DocumentRow.metadata_).where(
                    DocumentRow.collection_id == self.id, DocumentRow.external_id.in_(external_ids)
                )
            ).all()
        return dict(rows)

    def _write_locked(
        self,
        s: Session,
        prepared: Sequence[PreparedDocument],
        metadata_only: Sequence[DocumentInput],
        seq: int,
        result: UpsertResult,
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        now = utcnow()
        for doc in metadata_only:
            s.execute(
                update(DocumentRow)
                .where(DocumentRow.collection_id == self.id, DocumentRow.external_id == doc.id)
                .values(metadata_=doc.metadata, updated_at=now)
            )
            result.metadata_updated += 1
        if not prepared:
            return np.zeros(0, np.int64), np.zeros(0, np.int64), np.zeros((0, self.dimension), np.float32)
        ext_ids = [p.doc.id for p in prepared]
        existing = dict(
            s.execute(
                select(DocumentRow.external_id, DocumentRow.id).where(
                    DocumentRow.collection_id == self.id, DocumentRow.external_id.in_(ext_ids)
                )
            ).all()
        )
        removed = s.scalars(select(ChunkRow.id).where(ChunkRow.document_id.in_(list(existing.values())))).all()
        if removed:
            deletions = [{"vector_id": v, "collection_id": self.id, "seq": seq} for v in removed]
            s.execute(insert(VectorDeletionRow), deletions)
            s.execute(delete(ChunkRow).where(ChunkRow.id.in_(removed)))
        new_rows = []
        for p in prepared:
            values = dict(
                title=p.doc.title,
                text=p.doc.text,
                metadata_=p.doc.metadata,
                content_hash=p.content_hash,
                chunk_count=len(p.spans),
                token_count=sum(t for _, _, t in p.spans),
                updated_at=now,
            )
            if p.doc.id in existing:
                s.execute(update(DocumentRow).where(DocumentRow.id == existing[p.doc.id]).values(**values))
            else:
                new_rows.append(dict(collection_id=self.id, external_id=p.doc.id, created_at=now, **values))
        if new_rows:  # one multi-row INSERT … RETURNING instead of a round trip per document
            new_ids = s.scalars(
                insert(DocumentRow).returning(DocumentRow.id, sort_by_parameter_order=True), new_rows
            ).all()
            existing.update({r["external_id"]: i for r, i in zip(new_rows, new_ids, strict=True)})
        rows = [
            {
                "collection_id": self.id,
                "document_id": existing[p.doc.id],
                "ordinal": i,
                "char_start": a,
                "char_end": b,
                "token_count": t,
                "seq": seq,
                "vector": np.ascontiguousarray(v, np.float32).tobytes(),
            }
            for p in prepared
            for i, ((a, b, t), v) in enumerate(zip(p.spans, p.vectors, strict=True))
        ]
        added_ids = s.scalars(insert(ChunkRow).returning(ChunkRow.id, sort_by_parameter_order=True), rows).all()
        result.upserted += len(prepared)
        result.chunks_added += len(rows)
        result.chunks_removed += len(removed)
        result.tokens += sum(r["token_count"] for r in rows)
        vectors = np.vstack([p.vectors for p in prepared]).astype(np.float32)
        return np.asarray(removed, np.int64), np.asarray(added_ids, np.int64), vectors

    def delete(self, external_ids: Sequence[str], missing_ok: bool = True) -> int:
        """Delete documents (and their vectors) by id; returns how many existed."""
        if not external_ids:
            return 0
        with self.sessions() as s:
            doc_ids = s.scalars(
                select(DocumentRow.id).where(
                    DocumentRow.collection_id == self.id, DocumentRow.external_id.in_(list(external_ids))
                )
            ).all()
        if not doc_ids and not missing_ok:
            raise DocumentNotFound(list(external_ids), self.name)
        return self._delete_rows(doc_ids)

    def delete_where(self, filter: dict[str, Any]) -> int:
        clause = self.filters.compile(filter)
        if clause is None:
            raise InvalidInput("delete by filter needs a non-empty filter", code="invalid_filter")
        with self.sessions() as s:
            doc_ids = s.scalars(select(DocumentRow.id).where(DocumentRow.collection_id == self.id, clause)).all()
        return self._delete_rows(doc_ids)

    def _delete_rows(self, doc_ids: Sequence[int]) -> int:
        if not doc_ids:
            return 0
        with self.writer.hold():
            self.vectors.catch_up()
            with self.sessions() as s, s.begin():
                seq = _bump_seq(s, self.id)
                removed = s.scalars(select(ChunkRow.id).where(ChunkRow.document_id.in_(list(doc_ids)))).all()
                if removed:
                    s.execute(
                        insert(VectorDeletionRow),
                        [{"vector_id": v, "collection_id": self.id, "seq": seq} for v in removed],
                    )
                deleted = s.execute(delete(DocumentRow).where(DocumentRow.id.in_(list(doc_ids)))).rowcount
            self.vectors.apply(
                np.asarray(removed, np.int64), np.zeros(0, np.int64), np.zeros((0, self.dimension), np.float32), seq
            )
            self.vectors.persist(every_seconds=self.checkpoint_seconds)
        return int(deleted)

    def checkpoint(self) -> bool:
        """Persist the index file now if it is behind SQL (end of a job, shutdown)."""
        with self.writer.hold():
            self.vectors.catch_up()
            persisted = self.vectors.persist()
        self.measure_recall_if_stale()
        return persisted

    def measure_recall_if_stale(self, queries: int = 200, k: int = 10) -> dict[str, Any] | None:
        """Approximate indexes measure their recall@k against exact search over the SQL vectors, after a
        build and again once the collection changed by more than 10%; stored in `index_info`."""
        if self.vectors.index.kind in ("flat", "numpy"):
            return None
        with self.sessions() as s:
            info = dict(s.scalar(select(CollectionRow.index_info).where(CollectionRow.id == self.id)) or {})
        n = len(self.vectors.index)
        last = info.get("recall_measured_at_vectors") or 0
        if n == 0 or (last and abs(n - last) <= 0.1 * last):
            return None
        from latent.index.recall import measure_recall, sample_queries

        with self.sessions() as s:
            pages = list(self.vectors._chunk_pages(s, -1, self.vectors.sql_seq(s)))
        ids = np.concatenate([p[0] for p in pages])
        vecs = np.vstack([p[1] for p in pages])
        with self.vectors.lock.read():
            recall = measure_recall(self.vectors.index, sample_queries(vecs, queries), k, ids=ids, vectors=vecs)
        info.update(
            {f"recall@{k}": round(recall, 4), "recall_measured_at_vectors": n, "recall_queries": min(queries, n)}
        )
        with self.sessions() as s, s.begin():
            s.execute(update(CollectionRow).where(CollectionRow.id == self.id).values(index_info=info))
        return info


def validate_document(doc: DocumentInput) -> None:
    if not isinstance(doc.id, str) or not doc.id.strip():
        raise InvalidInput("every document needs a non-empty string id", code="invalid_document")
    if len(doc.id) > MAX_ID_CHARS:
        raise InvalidInput(
            f"document id longer than {MAX_ID_CHARS} characters",
            code="invalid_document",
            details={"id": doc.id[:64] + "…"},
        )
    if not isinstance(doc.text, str) or not isinstance(doc.title, str):
        raise InvalidInput(
            f"document {doc.id!r}: text and title must be strings", code="invalid_document", details={"id": doc.id}
        )
    if not (doc.text.strip() or doc.title.strip()):
        raise InvalidInput(f"document {doc.id!r} has no text", code="invalid_document", details={"id": doc.id})
    if not isinstance(doc.metadata, dict):
        raise InvalidInput(
            f"document {doc.id!r}: metadata must be an object", code="invalid_document", details={"id": doc.id}
        )


def _check_unique(docs: Sequence[DocumentInput]) -> None:
    seen: set[str] = set()
    dupes = sorted({d.id for d in docs if d.id in seen or seen.add(d.id)})
    if dupes:
        raise InvalidInput(
            f"duplicate document ids in one batch: {dupes[:5]}", code="duplicate_ids", details={"ids": dupes}
        )


def _bump_seq(s: Session, collection_id: int) -> int:
    s.execute(update(CollectionRow).where(CollectionRow.id == collection_id).values(seq=CollectionRow.seq + 1))
    return int(s.scalar(select(CollectionRow.seq).where(CollectionRow.id == collection_id)))


def _mean_unit(vectors: np.ndarray) -> np.ndarray:
    mean = vectors.mean(axis=0) if len(vectors) > 1 else vectors[0]
    norm = float(np.linalg.norm(mean))
    return (mean / norm if norm else mean).astype(np.float32)


def _record(r: DocumentRow) -> DocumentRecord:
    return DocumentRecord(
        id=r.external_id,
        title=r.title,
        text=r.text,
        metadata=r.metadata_ or {},
        chunk_count=r.chunk_count,
        token_count=r.token_count,
        content_hash=r.content_hash,
        created_at=r.created_at,
        updated_at=r.updated_at,
    )
