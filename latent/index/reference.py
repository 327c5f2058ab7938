"""Brute-force NumPy index: the reference every FAISS backend is checked against (congruence tests)."""

from __future__ import annotations

import io
from typing import Any

import numpy as np

from latent.index.base import SearchResult, as_ids, check_metric, empty_result, pairwise_scores
from latent.vectors import as_vectors


class NumpyIndex:
    kind = "numpy"
    PARAMS = {"metric": check_metric}

    def __init__(self, dimension: int, metric: str = "ip"):
        self.dimension = dimension
        self.metric = check_metric(metric)
        self.ids_ = np.zeros(0, dtype=np.int64)
        self.vectors = np.zeros((0, dimension), dtype=np.float32)

    def add(self, ids: np.ndarray, vectors: np.ndarray) -> None:
        self.ids_ = np.concatenate([self.ids_, as_ids(ids)])
        self.vectors = np.vstack([self.vectors, as_vectors(vectors, self.dimension, min_rows=0)])

    def remove(self, ids: np.ndarray) -> int:
        keep = ~np.isin(self.ids_, as_ids(ids))
        removed = int((~keep).sum())
        self.ids_, self.vectors = self.ids_[keep], self.vectors[keep]
        return removed

    def search(self, queries: np.ndarray, k: int, allowed: np.ndarray | None = None) -> SearchResult:
        queries = as_vectors(queries, self.dimension, min_rows=0)
        result = empty_result(len(queries), k)
        mask = np.ones(len(self.ids_), dtype=bool) if allowed is None else np.isin(self.ids_, as_ids(allowed))
        ids, vectors = self.ids_[mask], self.vectors[mask]
        if not len(ids):
            return result
        scores = pairwise_scores(queries, vectors, self.metric)
        top = min(k, len(ids))
        order = np.argsort(-scores, axis=1, kind="stable")[:, :top]
        result.scores[:, :top] = np.take_along_axis(scores, order, axis=1)
        result.ids[:, :top] = ids[order]
        return result

    def serialize(self) -> bytes:
        buf = io.BytesIO()
        np.savez(buf, ids=self.ids_, vectors=self.vectors, metric=np.array(self.metric))
        return buf.getvalue()

    @classmethod
    def deserialize(cls, dimension: int, data: bytes, params: dict | None = None) -> NumpyIndex:
        arrays = np.load(io.BytesIO(data))
        index = cls(dimension, str(arrays["metric"]) if "metric" in arrays else "ip")
        index.ids_, index.vectors = arrays["ids"], arrays["vectors"]
        return index

    def stats(self) -> dict[str, Any]:
        return {
            "type": self.kind,
            "vectors": len(self),
            "memory_bytes": int(self.vectors.nbytes),
            "tombstones": 0,
            "params": {},
            "metric": self.metric,
        }

    def ids(self) -> np.ndarray:
        return self.ids_.copy()

    def __len__(self) -> int:
        return len(self.ids_)
