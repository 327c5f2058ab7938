"""SQL models of what is learned from a collection: jobs, clusterings, maps, VAE models, profile events."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Float, ForeignKey, Index, Integer, LargeBinary, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from latent.store.base import Base, BigIntId, JSONType, UTCDateTime, utcnow


class JobRow(Base):
    """A long run (clustering, map fit, VAE training); rows outlive the process that ran them."""

    __tablename__ = "jobs"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    kind: Mapped[str] = mapped_column(String(32))
    collection_id: Mapped[int | None] = mapped_column(ForeignKey("collections.id", ondelete="CASCADE"), nullable=True)
    status: Mapped[str] = mapped_column(String(16), index=True)
    progress: Mapped[float] = mapped_column(Float, default=0.0)
    message: Mapped[str] = mapped_column(Text, default="")
    params: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)
    result: Mapped[dict[str, Any] | None] = mapped_column(JSONType, nullable=True)
    error: Mapped[str | None] = mapped_column(Text, nullable=True)
    owner_pid: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    started_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)


class ClusteringRow(Base):
    __tablename__ = "clusterings"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    collection_id: Mapped[int] = mapped_column(ForeignKey("collections.id", ondelete="CASCADE"), index=True)
    algorithm: Mapped[str] = mapped_column(String(32))
    params: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)
    silhouette: Mapped[float | None] = mapped_column(Float, nullable=True)
    clusters: Mapped[list[dict[str, Any]]] = mapped_column(JSONType, default=list)
    centroids: Mapped[bytes | None] = mapped_column(LargeBinary, nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class ClusterAssignmentRow(Base):
    __tablename__ = "cluster_assignments"
    __table_args__ = (Index("ix_cluster_assignments_clustering_cluster", "clustering_id", "cluster"),)

    clustering_id: Mapped[int] = mapped_column(ForeignKey("clusterings.id", ondelete="CASCADE"), primary_key=True)
    document_id: Mapped[int] = mapped_column(
        BigIntId, ForeignKey("documents.id", ondelete="CASCADE"), primary_key=True, index=True
    )
    cluster: Mapped[int] = mapped_column(Integer)


class MapRow(Base):
    __tablename__ = "maps"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    collection_id: Mapped[int] = mapped_column(ForeignKey("collections.id", ondelete="CASCADE"), index=True)
    params: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)
    quality: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)
    alignment: Mapped[dict[str, Any] | None] = mapped_column(JSONType, nullable=True)
    clustering_id: Mapped[int | None] = mapped_column(Integer, nullable=True)
    path: Mapped[str] = mapped_column(String(1024))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class MapPointRow(Base):
    __tablename__ = "map_points"

    map_id: Mapped[int] = mapped_column(ForeignKey("maps.id", ondelete="CASCADE"), primary_key=True)
    document_id: Mapped[int] = mapped_column(
        BigIntId, ForeignKey("documents.id", ondelete="CASCADE"), primary_key=True, index=True
    )
    x: Mapped[float] = mapped_column(Float)
    y: Mapped[float] = mapped_column(Float)
    fitted: Mapped[int] = mapped_column(Integer, default=1)  # 0: placed later by transform


class VaeModelRow(Base):
    __tablename__ = "vae_models"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    collection_id: Mapped[int] = mapped_column(ForeignKey("collections.id", ondelete="CASCADE"), index=True)
    params: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)
    metrics: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)
    path: Mapped[str] = mapped_column(String(1024))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class SyntheticPointRow(Base):
    """A generated embedding a user chose to keep; never mixed into search results unless asked."""

    __tablename__ = "synthetic_points"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    collection_id: Mapped[int] = mapped_column(ForeignKey("collections.id", ondelete="CASCADE"), index=True)
    vae_model_id: Mapped[int | None] = mapped_column(Integer, nullable=True)
    label: Mapped[str] = mapped_column(String(256), default="")
    provenance: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)
    vector: Mapped[bytes] = mapped_column(LargeBinary)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class ProfileEventRow(Base):
    """One interaction of a user with a document (by external id: events outlive re-indexing)."""

    __tablename__ = "profile_events"
    __table_args__ = (Index("ix_profile_events_collection_user", "collection_id", "user"),)

    id: Mapped[int] = mapped_column(BigIntId, primary_key=True, autoincrement=True)
    collection_id: Mapped[int] = mapped_column(ForeignKey("collections.id", ondelete="CASCADE"))
    user: Mapped[str] = mapped_column(String(256))
    document: Mapped[str] = mapped_column(String(512))
    kind: Mapped[str] = mapped_column(String(32))
    weight: Mapped[float] = mapped_column(Float, default=1.0)
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
