"""Search (dense, sparse, hybrid; pre-filtered), batch search and neighbours of a stored document."""

from __future__ import annotations

import time
from typing import Annotated

from fastapi import APIRouter, Query

from latent.limits import check_batch, check_search
from latent.search import SearchOptions, neighbors, search, search_many
from service.auth import Read
from service.deps import FilterDep, SettingsDep, StoreDep
from service.routes import elapsed_ms
from service.schemas.search import (
    BatchResult,
    BatchSearchRequest,
    BatchSearchResponse,
    HitPublic,
    NeighborsResponse,
    SearchRequest,
    SearchResponse,
)

router = APIRouter(prefix="/v1/collections/{name}", tags=["search"])

# These routes open the collection inside the endpoint rather than through CollectionDep: a sync
# dependency is one more trip through the thread pool, and on the hot path that hand-off costs more
# than the lookup itself.


@router.post("/search", name="search", dependencies=[Read], response_model_exclude_unset=True)
def search_collection(name: str, body: SearchRequest, store: StoreDep, settings: SettingsDep) -> SearchResponse:
    """Top-k documents for a query text or vector; the filter selects candidates before the vector search."""
    start = time.perf_counter()
    check_search(settings, body.k, body.offset, [body.query] if body.query is not None else [])
    collection = store.collection(name)
    options = body.to_options()
    hits = search(collection, query=body.query, vector=body.vector, options=options)
    return SearchResponse(hits=[HitPublic.of(h, options) for h in hits], took_ms=elapsed_ms(start))


@router.post("/search/batch", name="search_batch", dependencies=[Read], response_model_exclude_unset=True)
def search_batch(name: str, body: BatchSearchRequest, store: StoreDep, settings: SettingsDep) -> BatchSearchResponse:
    """Many queries in one call: encoded in one batch and searched in one index call."""
    start = time.perf_counter()
    check_batch(settings, len(body.queries if body.queries is not None else body.vectors or []), "queries")
    check_search(settings, body.k, body.offset, body.queries or [])
    collection = store.collection(name)
    options = body.to_options()
    results = search_many(collection, queries=body.queries, vectors=body.vectors, options=options)
    return BatchSearchResponse(
        results=[BatchResult(hits=[HitPublic.of(h, options) for h in hits]) for hits in results],
        took_ms=elapsed_ms(start),
    )


@router.get("/neighbors/{doc_id:path}", name="neighbors", dependencies=[Read], response_model_exclude_unset=True)
def document_neighbors(
    name: str,
    doc_id: str,
    store: StoreDep,
    settings: SettingsDep,
    filter: FilterDep,
    k: Annotated[int, Query(description="Neighbours to return.")] = 10,
    with_text: bool = False,
    with_metadata: bool = False,
    with_vector: bool = False,
) -> NeighborsResponse:
    """The k documents nearest a stored one (itself excluded); 404 document_not_found naming the id."""
    check_search(settings, k)
    options = SearchOptions(with_text=with_text, with_metadata=with_metadata, with_vector=with_vector)
    hits = neighbors(store.collection(name), doc_id, k=k, filter=filter, options=options)
    return NeighborsResponse(hits=[HitPublic.of(h, options) for h in hits])
