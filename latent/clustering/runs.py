"""Clustering runs on a collection: fit, label and store them (versioned in SQL), then read them back."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

import numpy as np
from sqlalchemy import func, insert, select

from latent.clustering.model import ALGORITHMS, ClusterModel, describe_clusters
from latent.errors import InvalidInput, NotFound
from latent.jobs import JobContext, Progress
from latent.store.collection import Collection
from latent.store.feature_models import ClusterAssignmentRow, ClusteringRow
from latent.store.models import DocumentRow

__all__ = [
    "ClusteringInfo",
    "ClusterDocument",
    "clustering_params",
    "run_clustering",
    "list_clusterings",
    "get_clustering",
    "latest_clustering_id",
    "cluster_documents",
]


@dataclass(slots=True)
class ClusteringInfo:
    id: int
    algorithm: str
    params: dict[str, Any]
    silhouette: float | None
    clusters: list[dict[str, Any]]  # {"id", "label", "terms", "size", "representatives"}
    created_at: datetime


@dataclass(slots=True)
class ClusterDocument:
    id: str
    title: str
    text: str


def clustering_params(
    collection: Collection,
    algorithm: str = "kmeans",
    k: int | None = None,
    min_cluster_size: int = 5,
    min_samples: int | None = None,
    reduce: int | None = None,
    random_state: int = 0,
) -> dict[str, Any]:
    """Check a request before any work starts (so bad input is a 4xx, not a failed job); returns the params."""
    if algorithm not in ALGORITHMS:
        raise InvalidInput(
            f"unknown clustering algorithm {algorithm!r}; use one of {', '.join(ALGORITHMS)}",
            details={"algorithm": algorithm, "allowed": list(ALGORITHMS)},
        )
    n = collection.count()
    if n < 2:
        raise InvalidInput(
            f"collection {collection.name!r} has {n} documents; clustering needs at least 2",
            details={"documents": n},
        )
    if algorithm == "kmeans" and k is not None and not 2 <= k <= n:
        raise InvalidInput(
            f"k must be between 2 and the number of documents ({n}), got {k}",
            details={"k": k, "documents": n},
        )
    if algorithm == "hdbscan" and min_cluster_size < 2:
        raise InvalidInput("min_cluster_size must be at least 2", details={"min_cluster_size": min_cluster_size})
    params: dict[str, Any] = {"algorithm": algorithm, "random_state": random_state}
    if algorithm == "kmeans":
        params["k"] = k
    else:
        params.update(min_cluster_size=min_cluster_size, min_samples=min_samples, reduce=reduce)
    return params


def run_clustering(collection: Collection, params: dict[str, Any], ctx: JobContext | None = None) -> int:
    """Cluster every document of the collection, label the clusters, store the run; returns its id."""
    params = clustering_params(collection, **params)
    report = _reporter(ctx)
    report(0.0, "loading vectors")
    ids, X = collection.all_document_vectors()
    model = ClusterModel(**params)
    model.fit(
        X,
        progress=lambda done, stage: report(0.05 + 0.75 * done, stage),
        should_stop=ctx.should_stop if ctx is not None else None,
    )
    report(0.85, "labelling")
    rows = _document_rows(collection, ids)
    texts = [f"{rows[i][1]} {rows[i][2]}" for i in ids]
    summaries = describe_clusters(X, model.labels_, texts, ids)
    clusters = [
        {
            "id": s.id,
            "label": s.label,
            "terms": s.terms,
            "size": s.size,
            "representatives": [str(r) for r in s.representatives],
        }
        for s in summaries
    ]
    report(0.95, "storing")
    with collection.sessions() as s, s.begin():
        row = ClusteringRow(
            collection_id=collection.id,
            algorithm=params["algorithm"],
            params={
                **model.get_params(),
                "k": model.n_clusters_ if params["algorithm"] == "kmeans" else None,
                "requested": params,
            },
            silhouette=model.silhouette_,
            clusters=clusters,
            centroids=np.ascontiguousarray(model.centroids_, dtype=np.float32).tobytes(),
        )
        s.add(row)
        s.flush()
        assignments = [
            {"clustering_id": row.id, "document_id": rows[ext][0], "cluster": int(label)}
            for ext, label in zip(ids, model.labels_, strict=True)
        ]
        if assignments:
            s.execute(insert(ClusterAssignmentRow), assignments)
        clustering_id = int(row.id)
    report(1.0, "done")
    return clustering_id


def list_clusterings(collection: Collection) -> list[ClusteringInfo]:
    """Every run on the collection, newest first."""
    with collection.sessions() as s:
        rows = s.scalars(
            select(ClusteringRow).where(ClusteringRow.collection_id == collection.id).order_by(ClusteringRow.id.desc())
        ).all()
    return [_info(r) for r in rows]


def get_clustering(collection: Collection, clustering_id: int) -> ClusteringInfo:
    with collection.sessions() as s:
        row = s.get(ClusteringRow, clustering_id)
    if row is None or row.collection_id != collection.id:
        raise NotFound(
            f"clustering {clustering_id} does not exist in collection {collection.name!r}",
            code="clustering_not_found",
            details={"id": clustering_id, "collection": collection.name},
        )
    return _info(row)


def latest_clustering_id(collection: Collection) -> int | None:
    """The newest clustering run's id (the one the `cluster` filter reads); None without one."""
    return collection.newest_clustering_id()


def cluster_documents(
    collection: Collection, clustering_id: int, cluster: int, offset: int = 0, limit: int = 100
) -> tuple[list[ClusterDocument], int]:
    """One page of a cluster's members (in insertion order) and how many it has."""
    info = get_clustering(collection, clustering_id)
    if cluster != -1 and cluster not in {c["id"] for c in info.clusters}:
        raise NotFound(
            f"clustering {clustering_id} has no cluster {cluster}",
            code="cluster_not_found",
            details={"clustering_id": clustering_id, "cluster": cluster},
        )
    where = (ClusterAssignmentRow.clustering_id == clustering_id, ClusterAssignmentRow.cluster == cluster)
    with collection.sessions() as s:
        total = s.scalar(select(func.count()).select_from(ClusterAssignmentRow).where(*where)) or 0
        rows = s.execute(
            select(DocumentRow.external_id, DocumentRow.title, DocumentRow.text)
            .join(ClusterAssignmentRow, ClusterAssignmentRow.document_id == DocumentRow.id)
            .where(*where)
            .order_by(DocumentRow.id)
            .offset(offset)
            .limit(limit)
        ).all()
    return [ClusterDocument(id=r[0], title=r[1], text=r[2]) for r in rows], int(total)


def _document_rows(collection: Collection, ids: list[str]) -> dict[str, tuple[int, str, str]]:
    """external id -> (row id, title, text)."""
    with collection.sessions() as s:
        rows = s.execute(
            select(DocumentRow.external_id, DocumentRow.id, DocumentRow.title, DocumentRow.text).where(
                DocumentRow.collection_id == collection.id
            )
        ).all()
    return {r[0]: (int(r[1]), r[2] or "", r[3] or "") for r in rows}


def _reporter(ctx: JobContext | None) -> Progress:
    def report(fraction: float, stage: str) -> None:
        if ctx is not None:
            ctx.progress(fraction, stage)

    return report


def _info(row: ClusteringRow) -> ClusteringInfo:
    return ClusteringInfo(
        id=int(row.id),
        algorithm=row.algorithm,
        params=dict(row.params or {}),
        silhouette=row.silhouette,
        clusters=list(row.clusters or []),
        created_at=row.created_at,
    )
