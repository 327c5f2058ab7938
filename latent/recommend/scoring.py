"""The maths behind `latent.recommend.strategies`: Qdrant's three strategies, per-example contributions, MMR."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from latent.errors import InvalidInput

STRATEGIES = ("average_vector", "best_score", "sum_scores")


@dataclass(slots=True)
class Example:
    """A resolved example. `key` names it in explanations (a doc id, 'text:…', 'vector#2');
    `kinds` (from profiles) says which event kinds made up its weight."""

    key: str
    vector: np.ndarray
    weight: float = 1.0
    kinds: dict[str, float] = field(default_factory=dict)


@dataclass(slots=True)
class ExampleMatrix:
    """One side (positive or negative) of a request as arrays: rows are unit vectors, weights are > 0."""

    keys: list[str]
    vectors: np.ndarray  # (n, d) float32
    weights: np.ndarray  # (n,) float64
    kinds: list[dict[str, float]]

    def __len__(self) -> int:
        return len(self.keys)


def scaled_fast_sigmoid(x: np.ndarray) -> np.ndarray:
    """Qdrant's `common::math::scaled_fast_sigmoid`: 0.5 * (x / (1 + |x|) + 1), monotone onto (0, 1)."""
    x = np.asarray(x, dtype=np.float64)
    with np.errstate(invalid="ignore"):  # +-inf (no example on that side) maps to its limit
        squashed = np.where(np.isinf(x), np.sign(x), x / (1.0 + np.abs(x)))
    return 0.5 * (squashed + 1.0)


def average_query(pos: ExampleMatrix, neg: ExampleMatrix) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The `average_vector` query and the coefficients that make its score a sum over the examples.

    Qdrant (lib/segment/src/vector_storage/query/reco_query.rs, `avg_vector_for_recommendation`):
    query = avg_pos without negatives, else avg_pos + avg_pos - avg_neg. Here the averages are
    weighted and, with negatives only, avg_pos counts as zero (query = -avg_neg: "away from these").
    The query is normalised so its scores are cosines; then
    score(x) = sum_i coef_pos[i] * <p_i, x> - sum_j coef_neg[j] * <n_j, x>.

    Returns:
        (query (d,) float32 unit vector, coef_pos (P,), coef_neg (N,))
    """
    dimension = pos.vectors.shape[1] if len(pos) else neg.vectors.shape[1]
    coef_pos = np.zeros(len(pos))
    coef_neg = np.zeros(len(neg))
    if len(pos):
        coef_pos = (2.0 if len(neg) else 1.0) * pos.weights / pos.weights.sum()
    if len(neg):
        coef_neg = neg.weights / neg.weights.sum()
    raw = np.zeros(dimension)
    if len(pos):
        raw += coef_pos @ pos.vectors.astype(np.float64)
    if len(neg):
        raw -= coef_neg @ neg.vectors.astype(np.float64)
    norm = float(np.linalg.norm(raw))
    if norm < 1e-9:
        raise InvalidInput(
            "the positive and negative examples cancel out: their average_vector query is zero",
            details={"positive": pos.keys, "negative": neg.keys},
        )
    return (raw / norm).astype(np.float32), coef_pos / norm, coef_neg / norm


def coefficients(strategy: str, pos: ExampleMatrix, neg: ExampleMatrix) -> tuple[np.ndarray, np.ndarray]:
    """How much each example's similarity counts: contribution = coef * similarity (negated for negatives).

    For `average_vector` and `sum_scores` the contributions add up to the score exactly. For `best_score`
    they are the weighted similarities that compete for the max (the score is not their sum).
    """
    if strategy == "average_vector":
        _, coef_pos, coef_neg = average_query(pos, neg)
        return coef_pos, coef_neg
    return pos.weights, neg.weights


def similarities(examples: ExampleMatrix, vectors: np.ndarray) -> np.ndarray:
    """(m, n) float64 inner products of m candidates with the n examples."""
    if not len(examples):
        return np.zeros((len(vectors), 0))
    return vectors.astype(np.float64) @ examples.vectors.astype(np.float64).T


def score(strategy: str, pos: ExampleMatrix, neg: ExampleMatrix, vectors: np.ndarray) -> np.ndarray:
    """Exact scores of candidate vectors (m, d) under a strategy, float64 (m,)."""
    sim_pos = similarities(pos, vectors)
    sim_neg = similarities(neg, vectors)
    if strategy == "best_score":
        # Qdrant's RecoBestScoreQuery::score_by (same reco_query.rs): with max_pos / max_neg the best
        # positive / negative similarity, score = sigmoid(max_pos) if max_pos > max_neg else
        # -sigmoid(max_neg). Qdrant's API docs still describe the older "-(max_neg * max_neg)", which
        # misorders candidates whose negative similarity is below zero; the sigmoid keeps every
        # positive-won candidate above every negative-won one and preserves order on both sides.
        # Our weights scale each example's similarity before the max.
        best_pos = (sim_pos * pos.weights).max(axis=1) if len(pos) else np.full(len(vectors), -np.inf)
        best_neg = (sim_neg * neg.weights).max(axis=1) if len(neg) else np.full(len(vectors), -np.inf)
        return np.where(best_pos > best_neg, scaled_fast_sigmoid(best_pos), -scaled_fast_sigmoid(best_neg))
    # average_vector (the search query's cosine, written as a sum) and sum_scores (Qdrant's
    # RecoSumScoresQuery: sum of positive similarities minus sum of negative ones), weighted.
    coef_pos, coef_neg = coefficients(strategy, pos, neg)
    return sim_pos @ coef_pos - sim_neg @ coef_neg


def explain(
    strategy: str, pos: ExampleMatrix, neg: ExampleMatrix, vectors: np.ndarray, top: int = 3
) -> list[dict[str, Any]]:
    """Per hit: the `top` positives by contribution and the negative that pulled it down most."""
    coef_pos, coef_neg = coefficients(strategy, pos, neg)
    sim_pos = similarities(pos, vectors)
    sim_neg = similarities(neg, vectors)
    contrib_pos = sim_pos * coef_pos
    contrib_neg = -sim_neg * coef_neg
    explanations = []
    for row in range(len(vectors)):
        order = np.argsort(-contrib_pos[row], kind="stable")[:top]
        positive = [_entry(pos, i, sim_pos[row, i], contrib_pos[row, i]) for i in order]
        negative = None
        if len(neg):
            j = int(np.argmin(contrib_neg[row]))
            if contrib_neg[row, j] < 0:
                negative = _entry(neg, j, sim_neg[row, j], contrib_neg[row, j])
        explanations.append({"positive": positive, "negative": negative})
    return explanations


def _entry(examples: ExampleMatrix, i: int, similarity: float, contribution: float) -> dict[str, Any]:
    entry: dict[str, Any] = {
        "example": examples.keys[i],
        "similarity": float(similarity),
        "contribution": float(contribution),
    }
    if examples.kinds[i]:
        entry["kinds"] = dict(examples.kinds[i])
    return entry


def mmr(relevance: np.ndarray, vectors: np.ndarray, k: int, lam: float) -> np.ndarray:
    """Maximal marginal relevance (Carbonell & Goldstein 1998): pick argmax lam*rel - (1-lam)*max_sim.

    Relevance is min-max scaled to [0, 1] over the pool so that lam weighs it against cosine similarity
    the same way whichever strategy produced it. The most relevant candidate is always first.

    Returns:
        Indices into the pool, in pick order.
    """
    n = len(relevance)
    if n == 0:
        return np.zeros(0, dtype=np.int64)
    span = float(relevance.max() - relevance.min())
    rel = (relevance - relevance.min()) / span if span > 0 else np.zeros(n)
    vecs = vectors.astype(np.float64)
    first = int(np.argmax(relevance))
    selected = [first]
    max_sim = vecs @ vecs[first]
    taken = np.zeros(n, dtype=bool)
    taken[first] = True
    for _ in range(1, min(k, n)):
        gain = lam * rel - (1.0 - lam) * max_sim
        gain[taken] = -np.inf
        pick = int(np.argmax(gain))
        selected.append(pick)
        taken[pick] = True
        max_sim = np.maximum(max_sim, vecs @ vecs[pick])
    return np.asarray(selected, dtype=np.int64)


def mean_pairwise_similarity(vectors: np.ndarray) -> float | None:
    """Mean inner product over distinct pairs; None for fewer than two vectors."""
    n = len(vectors)
    if n < 2:
        return None
    vecs = vectors.astype(np.float64)
    gram = vecs @ vecs.T
    return float((gram.sum() - np.trace(gram)) / (n * (n - 1)))
