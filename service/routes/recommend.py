"""Recommendations by examples (stored ids, texts, vectors), explained, and batch neighbours."""

from __future__ import annotations

import time

from fastapi import APIRouter

from latent.errors import TooLarge
from latent.limits import check_batch, check_search
from latent.recommend.runs import neighbors_many, recommend_documents
from latent.search import SearchOptions
from service.auth import Read
from service.deps import CollectionDep, SettingsDep
from service.routes import elapsed_ms
from service.schemas.recommend import (
    NeighborsBatchRequest,
    NeighborsBatchResponse,
    NeighborsBatchResult,
    RecommendRequest,
    RecommendResponse,
)
from service.schemas.search import HitPublic

router = APIRouter(prefix="/v1/collections/{name}", tags=["recommend"])


@router.post("/recommend", name="recommend", dependencies=[Read], response_model_exclude_unset=True)
def recommend(body: RecommendRequest, collection: CollectionDep, settings: SettingsDep) -> RecommendResponse:
    """Documents like the positive examples and unlike the negative ones, each with why.

    An example is a stored id (a plain string) or {"id"|"text"|"vector", "weight"}. Unknown ids are a
    404 naming them (missing=error) or skipped and listed (missing=ignore). Stored examples are excluded.
    """
    start = time.perf_counter()
    positive, negative = body.specs()
    texts = [s.text for s in (*positive, *negative) if s.text is not None]
    check_search(settings, body.k, 0, texts)
    examples = len(positive) + len(negative)
    if len(texts) > settings.max_batch_texts or examples > 10 * settings.max_batch_texts:
        raise TooLarge(
            f"{examples} examples ({len(texts)} texts) in one call; the limits are "
            f"{10 * settings.max_batch_texts} examples and {settings.max_batch_texts} texts",
            code="batch_too_large",
            details={"examples": examples, "texts": len(texts), "max_texts": settings.max_batch_texts},
        )
    flags = body.to_flags()
    result = recommend_documents(
        collection,
        positive,
        negative,
        body.k,
        strategy=body.strategy,
        filter=body.filter,
        exclude=body.exclude,
        exclude_examples=body.exclude_examples,
        diversity=body.diversity,
        missing=body.missing,
        flags=flags,
    )
    return RecommendResponse.of(result, flags, elapsed_ms(start))


@router.post("/neighbors/batch", name="neighbors_batch", dependencies=[Read], response_model_exclude_unset=True)
def neighbors_batch(
    body: NeighborsBatchRequest, collection: CollectionDep, settings: SettingsDep
) -> NeighborsBatchResponse:
    """The k nearest documents of many stored ones in one call ("more like these"); each excludes itself.

    Scores are cosines between document vectors; unknown ids are listed in `missing`.
    """
    start = time.perf_counter()
    check_batch(settings, len(body.ids), "ids")
    check_search(settings, body.k)
    results, missing = neighbors_many(collection, body.ids, body.k, body.filter)
    options = SearchOptions()
    return NeighborsBatchResponse(
        results=[NeighborsBatchResult(id=doc, hits=[HitPublic.of(h, options) for h in hits]) for doc, hits in results],
        missing=missing,
        took_ms=elapsed_ms(start),
    )
