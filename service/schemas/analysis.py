"""Clustering and map shapes: run requests, clusters with labels, map points and projections."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, Field, model_validator

from latent.clustering.runs import ClusterDocument, ClusteringInfo
from latent.maps.model import MIN_POINTS
from latent.maps.runs import MapInfo, MapPoint
from service.schemas.common import Strict

MAX_SEED = 2**32 - 1  # numpy's seeds are 32-bit


class ClusteringCreate(Strict):
    algorithm: str = Field("kmeans", description="kmeans | hdbscan.")
    k: int | None = Field(
        None, ge=2, le=100_000, description="Clusters for k-means (2..documents); omitted: chosen by silhouette."
    )
    min_cluster_size: int = Field(5, ge=2, le=1_000_000, description="HDBSCAN's smallest cluster (at least 2).")
    min_samples: int | None = Field(
        None, ge=1, le=1_000_000, description="HDBSCAN's density threshold (default min_cluster_size)."
    )
    reduce: int | None = Field(
        None, ge=2, le=256, description="HDBSCAN: first reduce to this many dimensions with UMAP (5-10 suits it)."
    )
    random_state: int = Field(
        0, ge=0, le=MAX_SEED, description="Seed: the same collection and seed give the same clusters."
    )


class ClusterPublic(BaseModel):
    id: int
    label: str = Field(description="The cluster's top three distinctive terms.")
    terms: list[str]
    size: int
    representatives: list[str] = Field(description="Ids of the documents nearest the cluster's centre.")


class ClusteringPublic(BaseModel):
    id: int
    algorithm: str
    params: dict[str, Any]
    silhouette: float | None = Field(description="Mean cosine silhouette on a sample (null when undefined).")
    clusters: list[ClusterPublic]

    @classmethod
    def of(cls, info: ClusteringInfo) -> ClusteringPublic:
        return cls(
            id=info.id,
            algorithm=info.algorithm,
            params=info.params,
            silhouette=info.silhouette,
            clusters=[ClusterPublic(**c) for c in info.clusters],
        )


class ClusteringList(BaseModel):
    data: list[ClusteringPublic]
    count: int


class ClusterDocumentPublic(BaseModel):
    id: str
    title: str
    text: str | None = None

    @classmethod
    def of(cls, doc: ClusterDocument, with_text: bool) -> ClusterDocumentPublic:
        return cls(id=doc.id, title=doc.title, text=doc.text if with_text else None)


class ClusterDocumentList(BaseModel):
    data: list[ClusterDocumentPublic]
    count: int = Field(description="Members of the cluster in all.")


class MapCreate(Strict):
    n_neighbors: int = Field(
        15, ge=2, le=1000, description="UMAP neighbourhood size (larger keeps more global structure)."
    )
    min_dist: float = Field(0.1, ge=0.0, le=1.0, description="How tightly points may pack (0..1).")
    sample: int = Field(
        50_000,
        ge=MIN_POINTS,
        le=10_000_000,
        description="Fit on at most this many documents; the rest are placed by transform.",
    )
    refit: bool = Field(False, description="Refit aligned to the newest map (shared points keep their place).")
    random_state: int = Field(42, ge=0, le=MAX_SEED, description="Seed: the same input gives the same map.")


class MapPublic(BaseModel):
    id: int
    created_at: datetime
    points: int = Field(description="Documents on the map (placed later ones included).")
    clustering_id: int | None = Field(description="Clustering whose ids colour the points.")
    quality: dict[str, Any] = Field(description="trustworthiness and knn_preservation (0..1, higher is better).")
    params: dict[str, Any] = Field(default_factory=dict)
    alignment: dict[str, Any] | None = Field(None, description="For a refit: previous map, transform, displacement.")

    @classmethod
    def of(cls, info: MapInfo) -> MapPublic:
        return cls(
            id=info.id,
            created_at=info.created_at,
            points=info.points,
            clustering_id=info.clustering_id,
            quality=info.quality,
            params=info.params,
            alignment=info.alignment,
        )


class MapList(BaseModel):
    data: list[MapPublic]
    count: int


class PointPublic(BaseModel):
    id: str
    x: float
    y: float
    cluster: int | None
    title: str

    @classmethod
    def of(cls, p: MapPoint) -> PointPublic:
        return cls(id=p.id, x=p.x, y=p.y, cluster=p.cluster, title=p.title)


class PointList(BaseModel):
    data: list[PointPublic]
    count: int = Field(description="Points in all (within the bounding box, if one was given).")


class ProjectRequest(Strict):
    texts: list[str] | None = Field(None, description="Texts, embedded with the collection's model.")
    ids: list[str] | None = Field(None, description="Stored document ids.")
    vectors: list[list[float]] | None = Field(None, description="Vectors of the collection's dimension.")

    @model_validator(mode="after")
    def _exactly_one(self) -> ProjectRequest:
        given = [n for n in ("texts", "ids", "vectors") if getattr(self, n) is not None]
        if len(given) != 1:
            raise ValueError("give exactly one of texts, ids or vectors")
        return self


class XY(BaseModel):
    x: float
    y: float


class ProjectResponse(BaseModel):
    points: list[XY]
