"""SQLAlchemy models: SQL is the source of truth; FAISS files are derived from these rows."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from latent.store.base import Base, BigIntId, JSONType, UTCDateTime, utcnow


class CollectionRow(Base):
    __tablename__ = "collections"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(128), unique=True)
    model: Mapped[str] = mapped_column(String(512))
    backend: Mapped[str] = mapped_column(String(32), default="torch")
    dimension: Mapped[int] = mapped_column(Integer)
    metric: Mapped[str] = mapped_column(String(16), default="cosine")
    index_spec: Mapped[str] = mapped_column(String(256), default="flat")
    chunk_tokens: Mapped[int] = mapped_column(Integer)
    chunk_overlap: Mapped[int] = mapped_column(Integer)
    # Change-sequence number: bumped by every committed write; FAISS files record the seq they cover.
    seq: Mapped[int] = mapped_column(BigInteger, default=0)
    index_info: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class DocumentRow(Base):
    __tablename__ = "documents"
    __table_args__ = (
        UniqueConstraint("collection_id", "external_id", name="uq_documents_collection_external"),
        {"sqlite_autoincrement": True},
    )

    id: Mapped[int] = mapped_column(BigIntId, primary_key=True, autoincrement=True)
    collection_id: Mapped[int] = mapped_column(ForeignKey("collections.id", ondelete="CASCADE"), index=True)
    external_id: Mapped[str] = mapped_column(String(512))
    title: Mapped[str] = mapped_column(Text, default="")
    text: Mapped[str] = mapped_column(Text, default="")
    metadata_: Mapped[dict[str, Any]] = mapped_column("metadata", JSONType, default=dict)
    content_hash: Mapped[str] = mapped_column(String(64))
    chunk_count: Mapped[int] = mapped_column(Integer, default=0)
    token_count: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class ChunkRow(Base):
    """One embedded span of a document; its primary key is the FAISS vector id."""

    __tablename__ = "chunks"
    __table_args__ = (
        Index("ix_chunks_collection_seq", "collection_id", "seq"),
        {"sqlite_autoincrement": True},
    )

    id: Mapped[int] = mapped_column(BigIntId, primary_key=True, autoincrement=True)
    collection_id: Mapped[int] = mapped_column(ForeignKey("collections.id", ondelete="CASCADE"))
    document_id: Mapped[int] = mapped_column(ForeignKey("documents.id", ondelete="CASCADE"), index=True)
    ordinal: Mapped[int] = mapped_column(Integer)
    char_start: Mapped[int] = mapped_column(Integer)
    char_end: Mapped[int] = mapped_column(Integer)
    token_count: Mapped[int] = mapped_column(Integer)
    seq: Mapped[int] = mapped_column(BigInteger)
    vector: Mapped[bytes] = mapped_column(LargeBinary)


class VectorDeletionRow(Base):
    """Vector ids removed at a seq, so an index file older than that seq can be replayed forward."""

    __tablename__ = "vector_deletions"
    __table_args__ = (Index("ix_vector_deletions_collection_seq", "collection_id", "seq"),)

    vector_id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    collection_id: Mapped[int] = mapped_column(ForeignKey("collections.id", ondelete="CASCADE"))
    seq: Mapped[int] = mapped_column(BigInteger)
