"""Answers of the long runs and what they make: jobs, clusterings, maps, the VAE (re-exported by `models`)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import Field

from latent_client._base import Answer

__all__ = [
    "Job",
    "JobList",
    "Cluster",
    "Clustering",
    "ClusteringList",
    "ClusterDocument",
    "ClusterDocumentList",
    "Map",
    "MapList",
    "MapPoint",
    "MapPointList",
    "XY",
    "Projection",
    "VaeModel",
    "VaeList",
    "Encoded",
    "Decoded",
    "Neighbor",
    "Plausibility",
    "Grounded",
    "InterpolatedPoint",
    "Interpolation",
    "SampleDiversity",
    "Samples",
    "BridgeStep",
    "Bridge",
]


# ----- jobs, clusterings, maps --------------------------------------------------------------------------------
class Job(Answer):
    id: str
    kind: str
    status: str = Field(description="queued | running | succeeded | failed | cancelled")
    progress: float
    message: str = ""
    params: dict[str, Any] = Field(default_factory=dict)
    result: dict[str, Any] | None = None
    error: str | None = None
    created_at: datetime
    started_at: datetime | None = None
    finished_at: datetime | None = None

    @property
    def done(self) -> bool:
        return self.status in ("succeeded", "failed", "cancelled")


class JobList(Answer):
    data: list[Job]
    count: int


class Cluster(Answer):
    id: int
    label: str
    terms: list[str]
    size: int
    representatives: list[str]


class Clustering(Answer):
    id: int
    algorithm: str
    params: dict[str, Any]
    silhouette: float | None
    clusters: list[Cluster]


class ClusteringList(Answer):
    data: list[Clustering]
    count: int


class ClusterDocument(Answer):
    id: str
    title: str
    text: str | None = None


class ClusterDocumentList(Answer):
    data: list[ClusterDocument]
    count: int


class Map(Answer):
    id: int
    created_at: datetime
    points: int
    clustering_id: int | None
    quality: dict[str, Any]
    params: dict[str, Any] = Field(default_factory=dict)
    alignment: dict[str, Any] | None = None


class MapList(Answer):
    data: list[Map]
    count: int


class MapPoint(Answer):
    id: str
    x: float
    y: float
    cluster: int | None
    title: str


class MapPointList(Answer):
    data: list[MapPoint]
    count: int


class XY(Answer):
    x: float
    y: float


class Projection(Answer):
    points: list[XY]


# ----- VAE ----------------------------------------------------------------------------------------------------
class VaeModel(Answer):
    id: int
    params: dict[str, Any]
    metrics: dict[str, Any]
    created_at: datetime


class VaeList(Answer):
    data: list[VaeModel]
    count: int


class Encoded(Answer):
    mu: list[list[float]]
    sigma: list[list[float]]


class Decoded(Answer):
    vectors: list[list[float]]


class Neighbor(Answer):
    id: str
    title: str | None = None
    cosine: float


class Plausibility(Answer):
    elbo: float
    percentile: float


class Grounded(Answer):
    """A generated embedding placed among the real documents."""

    vector: list[float] | None = None
    neighbors: list[Neighbor]
    novelty: float
    plausibility: Plausibility
    position: XY | None = None
    synthetic_id: int | None = None


class InterpolatedPoint(Grounded):
    t: float


class Interpolation(Answer):
    steps: list[InterpolatedPoint]


class SampleDiversity(Answer):
    mean_pairwise_cosine: float | None
    real_mean_pairwise_cosine: float | None
    clusters_touched: int | None


class Samples(Answer):
    samples: list[Grounded]
    diversity: SampleDiversity


class BridgeStep(Answer):
    id: str
    title: str | None = None
    t: float
    cosine: float


class Bridge(Answer):
    path: list[BridgeStep]
