"""Recall@k of an approximate index against exact search (chunked exact top-k, by the index's metric)."""

from __future__ import annotations

from typing import Any

import numpy as np

from latent.errors import InvalidInput
from latent.index.base import SearchResult, as_ids, empty_result, pairwise_scores


def exact_topk(
    queries: np.ndarray, vectors: np.ndarray, k: int, chunk: int = 32_768, metric: str = "ip"
) -> tuple[np.ndarray, np.ndarray]:
    """Exact top-k rows of `vectors` by score (`metric`: inner product or negative squared L2), streamed
    in chunks so memory stays O(nq * chunk).

    Returns (scores, positions), both (nq, k); missing hits are -inf / -1.
    """
    nq = len(queries)
    best_s = np.full((nq, k), -np.inf, dtype=np.float32)
    best_p = np.full((nq, k), -1, dtype=np.int64)
    for start in range(0, len(vectors), chunk):
        block = np.asarray(vectors[start : start + chunk], dtype=np.float32)
        scores = pairwise_scores(queries, block, metric)
        take = min(k, scores.shape[1])
        part = (
            np.argpartition(-scores, take - 1, axis=1)[:, :take]
            if take < scores.shape[1]
            else (np.broadcast_to(np.arange(scores.shape[1]), scores.shape))
        )
        cand_s = np.concatenate([best_s, np.take_along_axis(scores, part, axis=1)], axis=1)
        cand_p = np.concatenate([best_p, part + start], axis=1)
        order = np.argsort(-cand_s, axis=1, kind="stable")[:, :k]
        best_s = np.take_along_axis(cand_s, order, axis=1)
        best_p = np.take_along_axis(cand_p, order, axis=1)
    best_p[~np.isfinite(best_s)] = -1
    return best_s, best_p


def exact_search(queries: np.ndarray, ids: np.ndarray, vectors: np.ndarray, k: int, metric: str = "ip") -> SearchResult:
    """Exact search over explicit (ids, vectors): the ground truth for recall."""
    if not len(ids):
        return empty_result(len(queries), k)
    scores, pos = exact_topk(queries, vectors, k, metric=metric)
    out = np.where(pos >= 0, as_ids(ids)[np.maximum(pos, 0)], -1)
    return SearchResult(scores, out)


def sample_queries(vectors: np.ndarray, n: int = 200, random_state: int = 0) -> np.ndarray:
    """Up to n rows of `vectors` chosen at random, as queries for `measure_recall`."""
    rng = np.random.default_rng(random_state)
    rows = rng.choice(len(vectors), size=min(n, len(vectors)), replace=False)
    return np.ascontiguousarray(vectors[np.sort(rows)], dtype=np.float32)


def measure_recall(
    index: Any,
    queries: np.ndarray,
    k: int = 10,
    *,
    ids: np.ndarray | None = None,
    vectors: np.ndarray | None = None,
) -> float:
    """Mean recall@k of `index.search` against exact search, over `queries` (e.g. a sample of stored vectors).

    The ground truth comes from (ids, vectors) when given (the store passes the vectors it keeps in SQL);
    otherwise from the index's own `exact_search` (HNSW keeps full vectors; flat is exact by construction).
    IVF-PQ keeps only compressed codes, so it needs (ids, vectors). What is measured is `index.search` as
    callers get it: an IVF-PQ index with a `vector_source` attached (the store's) is measured re-ranked.
    """
    queries = np.ascontiguousarray(queries, dtype=np.float32)
    if queries.ndim == 1:
        queries = queries.reshape(1, -1)
    if not len(queries):
        raise InvalidInput("measure_recall needs at least one query", details={})
    if (ids is None) != (vectors is None):
        raise InvalidInput("pass both ids and vectors, or neither", details={})
    if ids is not None and vectors is not None:
        metric = getattr(index, "metric", "ip")
        truth = exact_search(queries, ids, np.asarray(vectors, dtype=np.float32), k, metric)
    elif getattr(index, "kind", None) in ("flat", "numpy"):
        truth = index.search(queries, k)
    elif hasattr(index, "exact_search"):
        truth = index.exact_search(queries, k)
    else:
        raise InvalidInput(
            f"index type {getattr(index, 'kind', type(index).__name__)!r} keeps no full vectors; "
            "pass ids= and vectors= for the ground truth",
            details={"kind": getattr(index, "kind", None)},
        )
    got = index.search(queries, k)
    hits, total = 0, 0
    for want_row, got_row in zip(truth.ids, got.ids, strict=True):
        want = set(want_row[want_row >= 0].tolist())
        total += len(want)
        hits += len(want & set(got_row[got_row >= 0].tolist()))
    return hits / total if total else 1.0
