"""Exact search: FAISS `IndexIDMap2(IndexFlatIP)` (or `IndexFlatL2`); right for up to ~100k vectors."""

from __future__ import annotations

from typing import Any

import numpy as np

from latent.index.base import SearchResult, as_ids, check_metric, empty_result, fix_missing, to_scores
from latent.vectors import as_vectors


class FlatIndex:
    kind = "flat"
    PARAMS = {"metric": check_metric}

    def __init__(self, dimension: int, index: Any = None, metric: str = "ip"):
        import faiss

        self.dimension = dimension
        self._faiss = faiss
        if index is not None:  # a loaded index knows its own metric
            metric = "l2" if index.metric_type == faiss.METRIC_L2 else "ip"
        self.metric = check_metric(metric)
        if index is None:
            flat = faiss.IndexFlatL2(dimension) if metric == "l2" else faiss.IndexFlatIP(dimension)
            index = faiss.IndexIDMap2(flat)
        self.index = index

    def add(self, ids: np.ndarray, vectors: np.ndarray) -> None:
        ids = as_ids(ids)
        if len(ids):
            self.index.add_with_ids(as_vectors(vectors, self.dimension, min_rows=0), ids)

    def remove(self, ids: np.ndarray) -> int:
        ids = as_ids(ids)
        if not len(ids):
            return 0
        return int(self.index.remove_ids(self._faiss.IDSelectorBatch(ids)))

    def search(self, queries: np.ndarray, k: int, allowed: np.ndarray | None = None) -> SearchResult:
        queries = as_vectors(queries, self.dimension, min_rows=0)
        if len(self) == 0 or (allowed is not None and len(allowed) == 0):
            return empty_result(len(queries), k)
        params = None
        if allowed is not None:
            params = self._faiss.SearchParameters(sel=self._faiss.IDSelectorBatch(as_ids(allowed)))
        scores, ids = self.index.search(queries, k, params=params)
        return fix_missing(SearchResult(to_scores(scores, self.metric), ids))

    def serialize(self) -> bytes:
        return self._faiss.serialize_index(self.index).tobytes()

    @classmethod
    def deserialize(cls, dimension: int, data: bytes, params: dict | None = None) -> FlatIndex:
        import faiss

        return cls(dimension, faiss.deserialize_index(np.frombuffer(data, dtype=np.uint8)))

    def stats(self) -> dict[str, Any]:
        return {
            "type": self.kind,
            "vectors": len(self),
            "memory_bytes": len(self) * (self.dimension * 4 + 8),
            "tombstones": 0,
            "params": {},
            "metric": self.metric,
        }

    def ids(self) -> np.ndarray:
        return self._faiss.vector_to_array(self.index.id_map).astype(np.int64)

    def __len__(self) -> int:
        return int(self.index.ntotal)
