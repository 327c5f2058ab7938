"""The `VectorIndex` protocol: ids are int64 vector ids (the SQL chunk ids), scores are higher-is-better.

An index compares vectors by one metric: "ip" (inner product; cosine once the store has normalised the
vectors) or "l2", whose score is the negative squared Euclidean distance (FAISS's L2 distance, negated)
so that every backend, and every caller sorting hits, treats a higher score as nearer.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol, runtime_checkable

import numpy as np

from latent.errors import InvalidInput

METRICS = ("ip", "l2")


@dataclass(slots=True)
class SearchResult:
    """Row i holds query i's hits, best first; missing hits have id -1 and score -inf."""

    scores: np.ndarray  # (nq, k) float32
    ids: np.ndarray  # (nq, k) int64


@runtime_checkable
class VectorIndex(Protocol):
    kind: str
    dimension: int

    def add(self, ids: np.ndarray, vectors: np.ndarray) -> None:
        """Add vectors under the given ids (ids must not be present already)."""

    def remove(self, ids: np.ndarray) -> int:
        """Remove ids; returns how many were present. Unknown ids are ignored."""

    def search(self, queries: np.ndarray, k: int, allowed: np.ndarray | None = None) -> SearchResult:
        """Top-k by score (the index's metric); `allowed` restricts the candidates (pre-filter) to those ids."""

    def serialize(self) -> bytes:
        """The whole index as bytes (the store writes them atomically with the SQL seq they cover)."""

    def stats(self) -> dict[str, Any]:
        """Index type, parameters, vectors, memory bytes, tombstones."""

    def ids(self) -> np.ndarray:
        """Every live id (tombstoned ids excluded): `latent check` compares them with SQL."""

    def __len__(self) -> int: ...


def check_metric(metric: str) -> str:
    """The index metric, or InvalidInput `invalid_metric` naming the ones that exist."""
    if metric not in METRICS:
        raise InvalidInput(
            f"unknown index metric {metric!r}; choose one of {', '.join(METRICS)}",
            code="invalid_metric",
            details={"metric": metric},
        )
    return metric


def pairwise_scores(queries: np.ndarray, vectors: np.ndarray, metric: str = "ip") -> np.ndarray:
    """(nq, n) scores, higher is nearer: inner products, or negative squared L2 distances."""
    dots = queries @ vectors.T
    if metric != "l2":
        return dots
    q2 = np.einsum("ij,ij->i", queries, queries)[:, None]
    x2 = np.einsum("ij,ij->i", vectors, vectors)[None, :]
    return np.minimum(2 * dots - q2 - x2, 0).astype(np.float32)


def faiss_metric(faiss: Any, metric: str) -> Any:
    """The FAISS metric constant of an index metric."""
    return faiss.METRIC_L2 if metric == "l2" else faiss.METRIC_INNER_PRODUCT


def to_scores(distances: np.ndarray, metric: str) -> np.ndarray:
    """FAISS's raw values as higher-is-better scores (L2 distances are negated)."""
    return -distances if metric == "l2" else distances


def empty_result(nq: int, k: int) -> SearchResult:
    return SearchResult(np.full((nq, k), -np.inf, dtype=np.float32), np.full((nq, k), -1, dtype=np.int64))


def as_ids(ids: np.ndarray | list[int]) -> np.ndarray:
    return np.ascontiguousarray(np.asarray(ids, dtype=np.int64).reshape(-1))


def fix_missing(result: SearchResult) -> SearchResult:
    """FAISS pads short result lists with id -1 and arbitrary scores; make the scores -inf."""
    result.scores[result.ids < 0] = -np.inf
    return result
