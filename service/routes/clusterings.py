"""Clustering runs of a collection: start one (a job), list them, read clusters and their documents."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, status

from latent.clustering.runs import (
    cluster_documents,
    clustering_params,
    get_clustering,
    list_clusterings,
    run_clustering,
)
from service.auth import Read, Write
from service.deps import CollectionDep, JobsDep, start_job
from service.schemas.analysis import (
    ClusterDocumentList,
    ClusterDocumentPublic,
    ClusteringCreate,
    ClusteringList,
    ClusteringPublic,
)
from service.schemas.jobs import JobPublic

router = APIRouter(prefix="/v1/collections/{name}", tags=["clusterings"])


@router.post("/clusterings", name="create", dependencies=[Write], status_code=status.HTTP_202_ACCEPTED)
def create_clustering(body: ClusteringCreate, collection: CollectionDep, jobs: JobsDep) -> JobPublic:
    """Start a clustering job; poll /v1/jobs/{id} until its result names the `clustering_id`."""
    params = clustering_params(collection, **body.model_dump())
    return start_job(jobs, "clustering", collection, params, run_clustering, result="clustering_id")


@router.get("/clusterings", name="list", dependencies=[Read])
def list_collection_clusterings(collection: CollectionDep) -> ClusteringList:
    """Every clustering run of the collection, newest first."""
    data = [ClusteringPublic.of(c) for c in list_clusterings(collection)]
    return ClusteringList(data=data, count=len(data))


@router.get("/clusterings/{clustering_id}", name="get", dependencies=[Read])
def get_collection_clustering(clustering_id: int, collection: CollectionDep) -> ClusteringPublic:
    """Clusters with labels, terms, sizes and representative document ids, and the silhouette."""
    return ClusteringPublic.of(get_clustering(collection, clustering_id))


@router.get("/clusterings/{clustering_id}/clusters/{cluster}/documents", name="documents", dependencies=[Read])
def get_cluster_documents(
    clustering_id: int,
    cluster: int,
    collection: CollectionDep,
    offset: Annotated[int, Query(ge=0, description="Documents to skip.")] = 0,
    limit: Annotated[int, Query(ge=1, le=10_000, description="Documents per page.")] = 100,
    with_text: bool = False,
) -> ClusterDocumentList:
    """One page of a cluster's documents (-1: HDBSCAN's noise) and how many it has."""
    docs, total = cluster_documents(collection, clustering_id, cluster, offset, limit)
    return ClusterDocumentList(data=[ClusterDocumentPublic.of(d, with_text) for d in docs], count=total)
