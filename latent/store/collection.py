"""One collection's reads and writes, its index kept in step (planning: ingest.planning; write SQL: store.writes)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
from sqlalchemy import func, select
from sqlalchemy.orm import sessionmaker

from latent.embedder.base import Encoder
from latent.errors import DimensionMismatch, DocumentNotFound, InvalidInput
from latent.index.factory import spec_with_metric
from latent.ingest import planning
from latent.records import (
    ChunkSpan,
    CollectionInfo,
    DocumentInput,
    DocumentRecord,
    PreparedDocument,
    ReadState,
    UpsertPlan,
    UpsertResult,
)
from latent.store import reads
from latent.store.byo import MissingEncoder, mean_vectors
from latent.store.feature_models import ClusterAssignmentRow
from latent.store.filters import FilterCompiler
from latent.store.fts import bm25_ranking
from latent.store.locks import WriterLock
from latent.store.models import ChunkRow, CollectionRow, DocumentRow
from latent.store.vectors import VectorState, document_means
from latent.store.writes import IndexChange, bump_seq, delete_documents, write_documents


class Collection:
    """Everything that touches one collection's rows and its index; safe to share between threads."""

    def __init__(
        self,
        row: CollectionRow,
        sessions: sessionmaker,
        encoder: Encoder | None,
        index_path: Path,
        lock_path: Path,
        dialect: str,
        max_filter_depth: int = 8,
        checkpoint_seconds: float = 30.0,
        faiss_threads: int | None = None,
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
        self.engine = sessions.kw["bind"]  # the hot-path reads skip the ORM session (`store.reads`)
        # writes (chunks, stored vectors): always the backend the collection was built with; None for a
        # collection without a model, whose documents bring their own vectors
        self.encoder = encoder
        # query texts; the Store puts an AgreedEncoder here for another backend
        self.query_encoder: Encoder = encoder or MissingEncoder(row.name, row.dimension)  # type: ignore[assignment]
        self.dialect = dialect
        self.writer = WriterLock(lock_path)
        spec = spec_with_metric(row.index_spec, row.metric)  # l2 builds an L2 index; cosine and dot inner product
        self.vectors = VectorState(row.id, spec, row.dimension, index_path, sessions, faiss_threads)
        self.filters = FilterCompiler(
            dialect, max_depth=max_filter_depth, extra_fields={"cluster": self._cluster_condition}
        )
        self.checkpoint_seconds = checkpoint_seconds
        self.dir = index_path.parent  # per-collection files (maps, VAE checkpoints); the Store sets its own
        self.vectors.open()

    @property
    def has_encoder(self) -> bool:
        """False for a bring-your-own-vectors collection: text queries and text-only documents are refused."""
        return self.encoder is not None

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
        report = getattr(self.query_encoder, "report", None)  # an AgreedEncoder, behind the store's batcher
        if report is None:
            return {}
        return {"query_backend": self.query_encoder.backend, "backend_agreement": report()}

    def get(self, external_id: str) -> DocumentRecord:
        found = self.get_many([external_id])
        if not found:
            raise DocumentNotFound([external_id], self.name)
        return found[0]

    def get_many(
        self, external_ids: Sequence[str], *, with_text: bool = True, with_metadata: bool = True
    ) -> list[DocumentRecord]:
        """Records for the ids that exist, in the order asked.

        Args:
            with_text, with_metadata: False leaves that column out of the query (the record holds None).
        """
        if not external_ids:
            return []
        stmt = reads.records_by_id(with_text, with_metadata)
        rows = reads.run(self.engine, stmt, collection_id=self.id, ids=list(external_ids))
        by_id = {r.external_id: _record(r._mapping) for r in rows}
        return [by_id[i] for i in external_ids if i in by_id]

    def list_documents(
        self, offset: int = 0, limit: int = 100, filter: dict | None = None
    ) -> tuple[list[DocumentRecord], int]:
        clause = self.filters.compile(filter)
        where = [DocumentRow.collection_id == self.id] + ([clause] if clause is not None else [])
        with self.sessions() as s:
            total = s.scalar(select(func.count()).select_from(DocumentRow).where(*where)) or 0
            stmt = select(*reads.record_columns(True, True)).where(*where)
            rows = s.execute(stmt.order_by(DocumentRow.id).offset(offset).limit(limit)).mappings().all()
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
        ids, vectors = self._document_means(DocumentRow.external_id.in_(list(external_ids)))
        return dict(zip(ids, vectors, strict=True))

    def stored_vectors(self, external_ids: Sequence[str]) -> dict[str, np.ndarray]:
        """One vector per document in the collection's own metric space (`with_vector`, neighbours): as
        `document_vectors` for cosine; the plain mean of its chunk vectors (one chunk: the vector as
        stored) for dot and l2, where normalising would change what the vector means."""
        if self.metric == "cosine" or not external_ids:
            return self.document_vectors(external_ids)
        with self.sessions() as s:
            rows = s.execute(
                select(DocumentRow.external_id, ChunkRow.vector)
                .join(ChunkRow, ChunkRow.document_id == DocumentRow.id)
                .where(DocumentRow.collection_id == self.id, DocumentRow.external_id.in_(list(external_ids)))
                .order_by(DocumentRow.id, ChunkRow.ordinal)
            ).all()
        return mean_vectors(rows, self.dimension)

    def all_document_vectors(self) -> tuple[list[str], np.ndarray]:
        """Every document's id and vector, in insertion order (clustering, maps and the VAE train on these)."""
        return self._document_means()

    def _document_means(self, *where: Any) -> tuple[list[str], np.ndarray]:
        with self.sessions() as s:
            rows = s.execute(
                select(DocumentRow.external_id, ChunkRow.vector)
                .join(ChunkRow, ChunkRow.document_id == DocumentRow.id)
                .where(DocumentRow.collection_id == self.id, *where)
                .order_by(DocumentRow.id, ChunkRow.ordinal)
            ).all()
        return document_means(rows, self.dimension)

    def chunk_documents(self, vector_ids: Sequence[int]) -> dict[int, ChunkSpan]:
        """Vector id -> the chunk's document and span, for the ids that still exist."""
        if not len(vector_ids):
            return {}
        rows = reads.run(self.engine, reads.CHUNK_SPANS, ids=[int(v) for v in vector_ids])
        return {r[0]: ChunkSpan(*r[1:]) for r in rows}

    def read_state(self) -> ReadState:
        """Catch the index up with every committed write and learn the newest clustering: one statement
        when nothing changed (a search runs this instead of `vectors.catch_up()`)."""
        rows = reads.run(self.engine, reads.READ_STATE, collection_id=self.id)
        seq, clustering_id = (int(rows[0][0] or 0), rows[0][1]) if rows else (0, None)
        self.vectors.catch_up(seq)
        return ReadState(seq, clustering_id)

    def bm25(self, query: str, limit: int, filter: dict[str, Any] | None = None) -> list[tuple[str, float]]:
        """(external id, BM25 score) of the best `limit` documents for `query` (SQLite FTS5; `store.fts`)."""
        clause = self.filters.compile(filter)
        return bm25_ranking(self.sessions, self.dialect, self.id, query, limit, clause)

    # ----- clusters (the newest clustering run of the collection) ------------------------------
    def newest_clustering_query(self) -> Any:
        """The newest clustering's id (NULL without one); every feature that reads it uses this."""
        return reads.newest_clustering(self.id)

    def newest_clustering_id(self) -> int | None:
        """The id of the collection's newest clustering run, None without one."""
        with self.sessions() as s:
            return s.scalar(self.newest_clustering_query())

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
            ClusterAssignmentRow.clustering_id == self.newest_clustering_query().scalar_subquery(),
            ClusterAssignmentRow.cluster.in_(values),
        )
        clause = DocumentRow.id.in_(members)
        return clause if op in ("$eq", "$in") else ~clause

    def clusters_of(self, external_ids: Sequence[str], clustering_id: int | None = None) -> dict[str, int]:
        """Cluster of each document in a clustering (default: the newest); documents it does not cover are
        left out."""
        if not external_ids:
            return {}
        if clustering_id is not None:  # the search path: it knows the clustering already (`read_state`)
            rows = reads.run(
                self.engine,
                reads.CLUSTERS_OF,
                collection_id=self.id,
                ids=list(external_ids),
                clustering_id=clustering_id,
            )
            return {ext: int(cluster) for ext, cluster in rows}
        with self.sessions() as s:
            rows = s.execute(
                select(DocumentRow.external_id, ClusterAssignmentRow.cluster)
                .join(ClusterAssignmentRow, ClusterAssignmentRow.document_id == DocumentRow.id)
                .where(
                    DocumentRow.collection_id == self.id,
                    DocumentRow.external_id.in_(list(external_ids)),
                    ClusterAssignmentRow.clustering_id == self.newest_clustering_query().scalar_subquery(),
                )
            ).all()
        return {ext: int(cluster) for ext, cluster in rows}

    # ----- writes (planning, the embedding half, is `latent.ingest.planning`) -------------------
    def upsert(self, docs: Sequence[DocumentInput]) -> UpsertResult:
        """Insert or replace documents: unchanged content is skipped, changed content re-embedded."""
        return self.write_plan(self.plan_upsert(docs))

    def plan_upsert(self, docs: Sequence[DocumentInput]) -> UpsertPlan:
        """The embedding half of an upsert (no lock held; see `latent.ingest.planning.plan_upsert`)."""
        return planning.plan_upsert(self, docs)

    def write_plan(self, plan: UpsertPlan) -> UpsertResult:
        """The writing half of an upsert: one transaction, then the index."""
        result = self.commit(plan.prepared, plan.metadata_only)
        result.unchanged = len(plan.unchanged) - result.metadata_updated
        return result

    def stored_hashes(self, external_ids: Sequence[str]) -> dict[str, str]:
        return self._stored(DocumentRow.content_hash, external_ids)

    def stored_metadata(self, external_ids: Sequence[str]) -> dict[str, dict[str, Any]]:
        return self._stored(DocumentRow.metadata_, external_ids)

    def _stored(self, column: Any, external_ids: Sequence[str]) -> dict[str, Any]:
        if not external_ids:
            return {}
        with self.sessions() as s:
            rows = s.execute(
                select(DocumentRow.external_id, column).where(
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
                    f"(model {self.model or 'none'}, dimension {self.dimension})",
                    details={"expected": self.dimension, "got": int(p.vectors.shape[-1])},
                )
        with self.writer.hold():
            self.vectors.catch_up()
            with self.sessions() as s, s.begin():
                seq = bump_seq(s, self.id)
                change = write_documents(s, self.id, self.dimension, prepared, metadata_only, seq, result)
            self._apply(change, seq)
        return result

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
                seq = bump_seq(s, self.id)
                deleted, change = delete_documents(s, self.id, self.dimension, doc_ids, seq)
            self._apply(change, seq)
        return deleted

    def _apply(self, change: IndexChange, seq: int) -> None:
        """Mirror a committed write in the index (the writer lock is held) and checkpoint it now and then."""
        self.vectors.apply(change.removed, change.added_ids, change.added_vectors, seq)
        self.vectors.persist(every_seconds=self.checkpoint_seconds)

    def checkpoint(self) -> bool:
        """Persist the index file now if it is behind SQL (end of a job, shutdown)."""
        with self.writer.hold():
            self.vectors.catch_up()
            persisted = self.vectors.persist()
        self.measure_recall_if_stale()
        return persisted

    def measure_recall_if_stale(self, queries: int = 200, k: int = 10) -> dict[str, Any] | None:
        """Recall@k of an approximate index, measured again once stale (`VectorState.measure_recall_if_stale`)."""
        return self.vectors.measure_recall_if_stale(queries, k)


def _record(r: Mapping[str, Any]) -> DocumentRecord:
    return DocumentRecord(
        id=r["external_id"],
        title=r["title"],
        text=r.get("text"),
        metadata=(r["metadata_"] or {}) if "metadata_" in r else None,
        chunk_count=r["chunk_count"],
        token_count=r["token_count"],
        content_hash=r["content_hash"],
        created_at=r["created_at"],
        updated_at=r["updated_at"],
    )
