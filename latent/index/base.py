"""The `VectorIndex` protocol: ids are int64 vector ids (the SQL chunk ids), scores are inner products."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol, runtime_checkable

import numpy as np


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
        """Top-k by inner product; `allowed` restricts the candidates (pre-filter) to those ids."""

    def serialize(self) -> bytes:
        """The whole index as bytes (the store writes them atomically with the SQL seq they cover)."""

    def stats(self) -> dict[str, Any]:
        """Index type, parameters, vectors, memory bytes, tombstones."""

    def ids(self) -> np.ndarray:
        """Every live id (tombstoned ids excluded): `latent check` compares them with SQL."""

    def __len__(self) -> int: ...


def empty_result(nq: int, k: int) -> SearchResult:
    return SearchResult(np.full((nq, k), -np.inf, dtype=np.float32), np.full((nq, k), -1, dtype=np.int64))


def as_ids(ids: np.ndarray | list[int]) -> np.ndarray:
    return np.ascontiguousarray(np.asarray(ids, dtype=np.int64).reshape(-1))


def fix_missing(result: SearchResult) -> SearchResult:
    """FAISS pads short result lists with id -1 and arbitrary scores; make the scores -inf."""
    result.scores[result.ids < 0] = -np.inf
    return result
