"""Recommendations from positive and negative examples over any `VectorIndex`, with explanations and MMR.

Pure core: the caller resolves examples (stored documents, texts, raw vectors) into `Example`s and
provides `candidate_vectors` (ids -> vectors, from the store or the index) so candidates can be
rescored exactly whatever the index approximates. Strategies follow Qdrant's recommend API.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from numbers import Real
from typing import Any

import numpy as np

from latent.errors import InvalidInput
from latent.index.base import VectorIndex, as_ids
from latent.recommend.events import DEFAULT_KIND_WEIGHTS, Event, profile_examples
from latent.recommend.scoring import (
    STRATEGIES,
    Example,
    ExampleMatrix,
    average_query,
    explain,
    mean_pairwise_similarity,
    mmr,
    score,
)
from latent.vectors import as_vector, as_vectors

__all__ = [
    "DEFAULT_KIND_WEIGHTS",
    "STRATEGIES",
    "Event",
    "Example",
    "Scored",
    "RecommendResult",
    "neighbors_batch",
    "profile_examples",
    "recommend",
]

CandidateVectors = Callable[[np.ndarray], np.ndarray]

# Candidate generation for best_score / sum_scores searches around each positive; a long profile would
# mean thousands of searches, so only the most heavily weighted positives seed candidates (all of them
# still score every candidate).
MAX_SEED_EXAMPLES = 64


@dataclass(slots=True)
class Scored:
    """One recommended vector row (the caller turns it into a document `Hit`); `rank` is 1-based.

    Under diversity the order is MMR's, `score` stays relevance."""

    id: int
    score: float
    rank: int
    explanation: dict[str, Any]


@dataclass(slots=True)
class RecommendResult:
    hits: list[Scored]
    strategy: str
    diversity: float
    candidates: int  # how many candidates were rescored exactly
    # {"mean_pairwise_similarity": returned set, "without_diversity": plain top-k of the same pool}
    diversity_report: dict[str, float | None]


def recommend(
    index: VectorIndex,
    positives: Sequence[Example],
    negatives: Sequence[Example],
    k: int,
    *,
    strategy: str = "average_vector",
    allowed: np.ndarray | None = None,
    exclude_ids: np.ndarray | None = None,
    diversity: float = 0.0,
    candidate_vectors: CandidateVectors,
) -> RecommendResult:
    """Top-k vector ids for the examples.

    Args:
        index: any `VectorIndex`; only `search` and `len` are used.
        positives, negatives: resolved examples; at least one in all. Vectors are renormalised.
        k: hits wanted (>= 1).
        strategy: 'average_vector' (one search with avg_pos + avg_pos - avg_neg), 'best_score' or
            'sum_scores' (candidates around each positive, rescored exactly).
        allowed: pre-filter, only these ids may be returned (None: all).
        exclude_ids: never returned; the caller puts the ids of stored examples here.
        diversity: 0 = pure relevance, 1 = pure novelty (MMR with lambda = 1 - diversity over a pool
            of max(4k, 50) candidates).
        candidate_vectors: ids (m,) int64 -> (m, dimension) vectors, same order.
    """
    if strategy not in STRATEGIES:
        raise InvalidInput(
            f"unknown recommend strategy {strategy!r}; choose one of {', '.join(STRATEGIES)}",
            details={"strategy": strategy, "choices": list(STRATEGIES)},
        )
    if isinstance(k, bool) or not isinstance(k, int | np.integer) or k < 1:
        raise InvalidInput(f"k must be a positive integer, got {k!r}", details={"k": repr(k)})
    if isinstance(diversity, bool) or not isinstance(diversity, Real) or not 0.0 <= diversity <= 1.0:
        raise InvalidInput(f"diversity must be in [0, 1], got {diversity!r}", details={"diversity": repr(diversity)})
    if not positives and not negatives:
        raise InvalidInput("give at least one positive or negative example", details={})
    k = int(k)
    pos = _matrix(positives, index.dimension, "positive")
    neg = _matrix(negatives, index.dimension, "negative")
    query, _, _ = average_query(pos, neg)  # also rejects examples that cancel out

    exclude = as_ids(exclude_ids) if exclude_ids is not None else np.zeros(0, dtype=np.int64)
    if allowed is not None:
        # Removing excluded ids from the pre-filter is exact; otherwise over-fetch by their number.
        allowed = np.setdiff1d(as_ids(allowed), exclude)
    pool = max(4 * k, 50) if diversity > 0 else k
    if len(index) == 0 or (allowed is not None and len(allowed) == 0):
        return _empty(strategy, diversity)
    over = 0 if allowed is not None else len(exclude)

    if strategy == "average_vector":
        queries, per_query = query.reshape(1, -1), pool
    else:
        seeds = pos if len(pos) else neg
        order = np.argsort(-seeds.weights, kind="stable")[:MAX_SEED_EXAMPLES]
        # With negatives only, search away from them: the nearest points to -n are the farthest from n.
        seed_vectors = seeds.vectors[order] if len(pos) else -seeds.vectors[order]
        queries, per_query = np.vstack([seed_vectors, query]), max(4 * k, 100)
    found = index.search(queries, min(per_query + over, len(index)), allowed)
    ids = np.unique(found.ids[found.ids >= 0])
    ids = ids[~np.isin(ids, exclude)]
    if allowed is not None:  # backends whose filter is approximate must still never leak
        ids = ids[np.isin(ids, allowed)]
    if not len(ids):
        return _empty(strategy, diversity)

    vectors = _fetch(candidate_vectors, ids, index.dimension)
    scores = score(strategy, pos, neg, vectors)
    scored = len(ids)
    ranked = np.lexsort((ids, -scores))[:pool]  # score desc, then id for determinism
    ids, vectors, scores = ids[ranked], vectors[ranked], scores[ranked]

    plain = np.arange(min(k, len(ids)))
    chosen = mmr(scores, vectors, k, 1.0 - float(diversity)) if diversity > 0 else plain
    explanations = explain(strategy, pos, neg, vectors[chosen])
    hits = [
        Scored(id=int(ids[i]), score=float(scores[i]), rank=rank, explanation=explanation)
        for rank, (i, explanation) in enumerate(zip(chosen, explanations, strict=True), start=1)
    ]
    report = {
        "mean_pairwise_similarity": mean_pairwise_similarity(vectors[chosen]),
        "without_diversity": mean_pairwise_similarity(vectors[plain]),
    }
    return RecommendResult(hits, strategy, float(diversity), scored, report)


def neighbors_batch(
    index: VectorIndex,
    vectors_by_id: dict[int, np.ndarray],
    k: int,
    allowed: np.ndarray | None = None,
) -> dict[int, list[tuple[int, float]]]:
    """The k nearest neighbours of many stored vectors in one batched search, each without itself.

    Returns:
        {id: [(neighbour id, score), ...] best first}; fewer than k where the index has fewer.
    """
    if isinstance(k, bool) or not isinstance(k, int | np.integer) or k < 1:
        raise InvalidInput(f"k must be a positive integer, got {k!r}", details={"k": repr(k)})
    if not vectors_by_id:
        return {}
    owners = [int(i) for i in vectors_by_id]
    vectors = np.vstack([as_vector(v, index.dimension, name=f"vector of id {i}") for i, v in vectors_by_id.items()])
    found = index.search(vectors, int(k) + 1, allowed)  # +1: each query usually finds itself first
    result = {}
    for row, owner in enumerate(owners):
        pairs = [
            (int(i), float(s)) for i, s in zip(found.ids[row], found.scores[row], strict=True) if i >= 0 and i != owner
        ]
        result[owner] = pairs[: int(k)]
    return result


def _matrix(examples: Sequence[Example], dimension: int, side: str) -> ExampleMatrix:
    vectors = np.zeros((len(examples), dimension), dtype=np.float32)
    weights = np.zeros(len(examples))
    for i, example in enumerate(examples):
        weight = example.weight
        if (
            isinstance(weight, bool)
            or not isinstance(weight, int | float | np.floating | np.integer)
            or not (math.isfinite(weight) and weight > 0)
        ):
            raise InvalidInput(
                f"{side} example {example.key!r} has weight {weight!r}; weights must be finite and > 0",
                details={"example": example.key, "weight": repr(weight)},
            )
        vectors[i] = as_vector(
            example.vector, dimension, name=f"{side} example {example.key!r}", normalise=True, allow_zero=False
        )
        weights[i] = float(weight)
    return ExampleMatrix(
        keys=[e.key for e in examples],
        vectors=vectors,
        weights=weights,
        kinds=[dict(e.kinds) for e in examples],
    )


def _fetch(candidate_vectors: CandidateVectors, ids: np.ndarray, dimension: int) -> np.ndarray:
    vectors = as_vectors(candidate_vectors(ids), dimension, min_rows=0)
    if len(vectors) != len(ids):
        # A caller bug, not bad user input: let it surface loudly.
        raise ValueError(f"candidate_vectors returned {len(vectors)} vectors for {len(ids)} ids")
    return vectors


def _empty(strategy: str, diversity: float) -> RecommendResult:
    report: dict[str, float | None] = {"mean_pairwise_similarity": None, "without_diversity": None}
    return RecommendResult([], strategy, float(diversity), 0, report)
