"""The SQL inside a collection's write transaction: replace documents and their chunks, delete documents,
record every removed vector id at the write's change sequence (so an older index file can be replayed)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from sqlalchemy import delete, insert, select, update
from sqlalchemy.orm import Session

from latent.records import DocumentInput, PreparedDocument, UpsertResult
from latent.store.base import utcnow
from latent.store.models import ChunkRow, CollectionRow, DocumentRow, VectorDeletionRow


@dataclass(slots=True)
class IndexChange:
    """What a committed write changes in the vector index: removed ids, added ids and their vectors."""

    removed: np.ndarray
    added_ids: np.ndarray
    added_vectors: np.ndarray

    @classmethod
    def none(cls, dimension: int) -> IndexChange:
        return cls(np.zeros(0, np.int64), np.zeros(0, np.int64), np.zeros((0, dimension), np.float32))


def bump_seq(s: Session, collection_id: int) -> int:
    """Take the collection's next change-sequence number (inside the write's transaction)."""
    s.execute(update(CollectionRow).where(CollectionRow.id == collection_id).values(seq=CollectionRow.seq + 1))
    return int(s.scalar(select(CollectionRow.seq).where(CollectionRow.id == collection_id)))


def write_documents(
    s: Session,
    collection_id: int,
    dimension: int,
    prepared: Sequence[PreparedDocument],
    metadata_only: Sequence[DocumentInput],
    seq: int,
    result: UpsertResult,
) -> IndexChange:
    """Insert or replace prepared documents (their old chunks deleted) and update metadata-only ones."""
    now = utcnow()
    for doc in metadata_only:
        s.execute(
            update(DocumentRow)
            .where(DocumentRow.collection_id == collection_id, DocumentRow.external_id == doc.id)
            .values(metadata_=doc.metadata, updated_at=now)
        )
        result.metadata_updated += 1
    if not prepared:
        return IndexChange.none(dimension)
    ext_ids = [p.doc.id for p in prepared]
    existing = dict(
        s.execute(
            select(DocumentRow.external_id, DocumentRow.id).where(
                DocumentRow.collection_id == collection_id, DocumentRow.external_id.in_(ext_ids)
            )
        ).all()
    )
    removed = s.scalars(select(ChunkRow.id).where(ChunkRow.document_id.in_(list(existing.values())))).all()
    if removed:
        record_deletions(s, collection_id, removed, seq)
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
            new_rows.append(dict(collection_id=collection_id, external_id=p.doc.id, created_at=now, **values))
    if new_rows:  # one multi-row INSERT … RETURNING instead of a round trip per document
        new_ids = s.scalars(insert(DocumentRow).returning(DocumentRow.id, sort_by_parameter_order=True), new_rows).all()
        existing.update({r["external_id"]: i for r, i in zip(new_rows, new_ids, strict=True)})
    rows = [
        {
            "collection_id": collection_id,
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
    return IndexChange(np.asarray(removed, np.int64), np.asarray(added_ids, np.int64), vectors)


def delete_documents(
    s: Session, collection_id: int, dimension: int, doc_ids: Sequence[int], seq: int
) -> tuple[int, IndexChange]:
    """Delete documents by row id (chunks cascade; FTS triggers fire); returns (deleted, index change)."""
    removed = s.scalars(select(ChunkRow.id).where(ChunkRow.document_id.in_(list(doc_ids)))).all()
    if removed:
        record_deletions(s, collection_id, removed, seq)
    deleted = s.execute(delete(DocumentRow).where(DocumentRow.id.in_(list(doc_ids)))).rowcount
    change = IndexChange.none(dimension)
    change.removed = np.asarray(removed, np.int64)
    return int(deleted), change


def record_deletions(s: Session, collection_id: int, vector_ids: Sequence[int], seq: int) -> None:
    s.execute(
        insert(VectorDeletionRow),
        [{"vector_id": v, "collection_id": collection_id, "seq": seq} for v in vector_ids],
    )
