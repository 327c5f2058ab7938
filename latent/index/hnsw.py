"""Approximate search with FAISS HNSW: graph over full vectors, tombstoned deletes, exact fallbacks.

FAISS HNSW cannot remove vectors, so `remove` marks internal slots dead (tombstones). Every search runs
with a FAISS ID selector (a bitmap over internal slots) that admits only live slots, intersected with the
`allowed` pre-filter, so deleted ids can never come back and k live hits return whenever k exist. When a
filter is very selective the graph walk finds few admitted nodes, so those searches (and any row that
still comes back short) are answered exactly from the stored vectors instead. `rebuild_needed()` tells
the store when dead slots exceed `max_tombstone_ratio`; `compacted()` then builds a fresh graph from the
index's own live vectors (no trip to SQL), and `compactions` counts how often that happened.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from latent.errors import Conflict, InvalidInput
from latent.index.base import SearchResult, as_ids, check_metric, empty_result, faiss_metric, to_scores
from latent.index.codec import few_query_threads, pack, unpack
from latent.index.recall import exact_topk
from latent.vectors import as_vectors

# A filtered search goes exact when it admits at most this many vectors (brute force is then cheap) ...
EXACT_MAX_CANDIDATES = 2048
# ... or at most this fraction of live vectors (the graph walk would visit mostly rejected nodes).
EXACT_MAX_SELECTIVITY = 0.02
# A filtered graph search raises efSearch by 1/selectivity, up to this factor.
MAX_EF_BOOST = 16
# `compacted()` copies live vectors into the new graph this many at a time (never all of them at once).
COMPACT_BATCH = 65_536


class HNSWIndex:
    """`IndexHNSWFlat` (inner product or L2) with our own slot -> id map and a live mask."""

    kind = "hnsw"
    PARAMS = {"M": int, "ef_construction": int, "ef_search": int, "max_tombstone_ratio": float, "metric": check_metric}

    def __init__(
        self,
        dimension: int,
        M: int = 32,
        ef_construction: int = 80,
        ef_search: int = 64,
        max_tombstone_ratio: float = 0.2,
        metric: str = "ip",
        *,
        index: Any = None,
    ):
        import faiss

        if M < 2 or M > 256:
            raise InvalidInput("HNSW M must be between 2 and 256", details={"M": M})
        self._faiss = faiss
        self.dimension = dimension
        self.M = M
        self.ef_construction = ef_construction
        self.ef_search = ef_search
        self.max_tombstone_ratio = max_tombstone_ratio
        self.metric = check_metric(metric)
        if index is None:
            index = faiss.IndexHNSWFlat(dimension, M, faiss_metric(faiss, self.metric))
            index.hnsw.efConstruction = ef_construction
        index.hnsw.efSearch = ef_search
        self.index = index
        self._ids = np.zeros(0, dtype=np.int64)  # external id of each internal slot
        self._live = np.zeros(0, dtype=bool)  # False = tombstone
        self._sorted: tuple[np.ndarray, np.ndarray] | None = None  # (live ids sorted, their slots)
        self._live_bits: np.ndarray | None = None
        self.compactions = 0  # times this index was rebuilt from its own live vectors (kept in the file)

    @classmethod
    def from_params(cls, dimension: int, params: dict[str, Any], size_hint: int | None = None) -> HNSWIndex:
        return cls(dimension, **params)

    @property
    def params(self) -> dict[str, Any]:
        return {
            "M": self.M,
            "ef_construction": self.ef_construction,
            "ef_search": self.ef_search,
            "max_tombstone_ratio": self.max_tombstone_ratio,
            "metric": self.metric,
        }

    # -- bookkeeping -------------------------------------------------------------------------------

    def _lookup(self) -> tuple[np.ndarray, np.ndarray]:
        if self._sorted is None:
            slots = np.flatnonzero(self._live)
            order = np.argsort(self._ids[slots], kind="stable")
            self._sorted = (self._ids[slots][order], slots[order])
        return self._sorted

    def _slots_of(self, ids: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(mask of ids that are live here, their slots)."""
        keys, slots = self._lookup()
        if not len(keys):
            return np.zeros(len(ids), dtype=bool), np.zeros(0, dtype=np.int64)
        at = np.minimum(np.searchsorted(keys, ids), len(keys) - 1)
        found = keys[at] == ids
        return found, slots[at[found]]

    def _vectors(self) -> np.ndarray:
        """Zero-copy view of the stored vectors (re-taken each time: adds may reallocate)."""
        storage = self._faiss.downcast_index(self.index.storage)
        n = int(self.index.ntotal)
        if n == 0:
            return np.zeros((0, self.dimension), dtype=np.float32)
        return self._faiss.rev_swig_ptr(storage.get_xb(), n * self.dimension).reshape(n, self.dimension)

    # -- VectorIndex -------------------------------------------------------------------------------

    def add(self, ids: np.ndarray, vectors: np.ndarray) -> None:
        ids = as_ids(ids)
        if not len(ids):
            return
        vectors = as_vectors(vectors, self.dimension, min_rows=0)
        if len(vectors) != len(ids):
            raise InvalidInput("ids and vectors differ in length", details={"ids": len(ids), "vectors": len(vectors)})
        if len(np.unique(ids)) != len(ids):
            raise Conflict("duplicate ids in one add", details={})
        found, _ = self._slots_of(ids)
        if found.any():
            raise Conflict(
                f"{int(found.sum())} ids are already in the index", details={"ids": ids[found][:10].tolist()}
            )
        self.index.add(vectors)
        old = self._sorted
        self._ids = np.concatenate([self._ids, ids])
        start = len(self._live)
        self._live = np.concatenate([self._live, np.ones(len(ids), dtype=bool)])
        self._live_bits = None
        # SQL ids usually arrive ascending: extend the sorted lookup instead of re-sorting.
        if old is not None and (not len(old[0]) or ids[0] > old[0][-1]) and np.all(np.diff(ids) > 0):
            self._sorted = (
                np.concatenate([old[0], ids]),
                np.concatenate([old[1], np.arange(start, len(self._live))]),
            )
        else:
            self._sorted = None

    def remove(self, ids: np.ndarray) -> int:
        ids = np.unique(as_ids(ids))
        if not len(ids) or not self._live.any():
            return 0
        found, slots = self._slots_of(ids)
        if not len(slots):
            return 0
        self._live[slots] = False
        keys, sorted_slots = self._lookup()
        keep = ~np.isin(sorted_slots, slots)
        self._sorted = (keys[keep], sorted_slots[keep])
        self._live_bits = None
        return len(slots)

    def search(self, queries: np.ndarray, k: int, allowed: np.ndarray | None = None) -> SearchResult:
        queries = as_vectors(queries, self.dimension, min_rows=0)
        if k < 1:
            raise InvalidInput("k must be at least 1", details={"k": k})
        n_live = len(self)
        if n_live == 0:
            return empty_result(len(queries), k)
        if allowed is None:
            candidates = None
            n_cand = n_live
            bits = None if n_live == len(self._live) else self._live_bitmap()
        else:
            _, candidates = self._slots_of(np.unique(as_ids(allowed)))
            n_cand = len(candidates)
            if n_cand == 0:
                return empty_result(len(queries), k)
            if n_cand <= EXACT_MAX_CANDIDATES or n_cand < EXACT_MAX_SELECTIVITY * n_live:
                return self._exact(queries, k, np.sort(candidates))
            mask = np.zeros(len(self._live), dtype=bool)
            mask[candidates] = True
            bits = np.packbits(mask, bitorder="little")
        admitted = n_cand / len(self._live)
        ef = max(self.ef_search, k)
        params = self._faiss.SearchParametersHNSW()
        params.efSearch = int(min(math.ceil(ef / admitted), MAX_EF_BOOST * ef))
        if bits is not None:
            # the selector only borrows the bitmap's memory: `bits` must outlive the search call
            params.sel = self._faiss.IDSelectorBitmap(len(self._live), self._faiss.swig_ptr(bits))
        with few_query_threads(len(queries)):
            scores, slots = self.index.search(queries, k, params=params)
        out = SearchResult(to_scores(scores, self.metric), np.where(slots >= 0, self._ids[np.maximum(slots, 0)], -1))
        out.scores[slots < 0] = -np.inf
        short = np.flatnonzero((slots >= 0).sum(axis=1) < min(k, n_cand))
        if len(short):  # the graph walk missed admitted vectors: answer those rows exactly
            pool = np.flatnonzero(self._live) if candidates is None else np.sort(candidates)
            exact = self._exact(queries[short], k, pool)
            out.scores[short], out.ids[short] = exact.scores, exact.ids
        return out

    def exact_search(self, queries: np.ndarray, k: int) -> SearchResult:
        """Brute force over the live stored vectors: the ground truth `measure_recall` compares against."""
        queries = as_vectors(queries, self.dimension, min_rows=0)
        return self._exact(queries, k, np.flatnonzero(self._live))

    def _exact(self, queries: np.ndarray, k: int, slots: np.ndarray) -> SearchResult:
        if not len(slots):
            return empty_result(len(queries), k)
        vectors = self._vectors()
        if len(slots) == len(vectors):
            scores, pos = exact_topk(queries, vectors, k, metric=self.metric)
            chosen = pos
        else:
            scores, pos = exact_topk(queries, _Gather(vectors, slots), k, metric=self.metric)
            chosen = np.where(pos >= 0, slots[np.maximum(pos, 0)], -1)
        return SearchResult(scores, np.where(chosen >= 0, self._ids[np.maximum(chosen, 0)], -1))

    def _live_bitmap(self) -> np.ndarray:
        if self._live_bits is None:
            self._live_bits = np.packbits(self._live, bitorder="little")
        return self._live_bits

    # -- maintenance -------------------------------------------------------------------------------

    def rebuild_needed(self) -> bool:
        """True when tombstones exceed `max_tombstone_ratio` of stored slots (memory and speed are wasted)."""
        total = len(self._live)
        return total > 0 and (total - len(self)) / total > self.max_tombstone_ratio

    def ids(self) -> np.ndarray:
        return self._ids[np.flatnonzero(self._live)].copy()

    def live_vectors(self) -> tuple[np.ndarray, np.ndarray]:
        """(ids, vectors) of the live entries, e.g. to rebuild or migrate without going back to SQL."""
        slots = np.flatnonzero(self._live)
        return self._ids[slots].copy(), self._vectors()[slots].copy()

    def compacted(self, batch: int = COMPACT_BATCH) -> HNSWIndex:
        """A new index with the same parameters over the live entries only: tombstones are gone and the
        graph is rebuilt. Built from this index's stored vectors a batch at a time, so no full copy of
        them is made; this index is only read (searches may go on while the new one is built)."""
        out = HNSWIndex(self.dimension, **self.params)
        out.compactions = self.compactions + 1
        slots = np.flatnonzero(self._live)
        vectors = self._vectors()
        for lo in range(0, len(slots), batch):
            out.index.add(np.ascontiguousarray(vectors[slots[lo : lo + batch]]))
        out._ids = self._ids[slots].copy()
        out._live = np.ones(len(slots), dtype=bool)
        return out

    @staticmethod
    def estimate_bytes(n: int, dimension: int, M: int = 32) -> int:
        """Memory for n vectors: full vectors + level-0 links (2M) + upper levels (~M/(M-1) * M/M) + maps."""
        links = 2 * M + M / max(M - 1, 1)
        return int(n * (4 * dimension + 4 * links + 8 + 8 + 4 + 1))

    def serialize(self) -> bytes:
        raw = self._faiss.serialize_index(self.index)
        header = {"params": self.params, "compactions": self.compactions}
        return pack(self.kind, header, {"ids": self._ids, "live": self._live, "faiss": raw})

    @classmethod
    def deserialize(cls, dimension: int, data: bytes, params: dict | None = None) -> HNSWIndex:
        import faiss

        meta, arrays = unpack(cls.kind, data)
        index = faiss.deserialize_index(np.ascontiguousarray(arrays["faiss"]))
        if index.d != dimension:
            from latent.errors import DimensionMismatch

            raise DimensionMismatch(
                f"stored index has dimension {index.d}, expected {dimension}",
                details={"expected": dimension, "got": int(index.d)},
            )
        out = cls(dimension, **meta["params"], index=index)
        out._ids = arrays["ids"].copy()
        out._live = arrays["live"].copy()
        out.compactions = int(meta.get("compactions", 0))
        return out

    def stats(self) -> dict[str, Any]:
        hnsw = self.index.hnsw
        total = len(self._live)
        memory = (
            total * self.dimension * 4
            + hnsw.neighbors.size() * 4
            + hnsw.levels.size() * 4
            + hnsw.offsets.size() * 8
            + self._ids.nbytes
            + self._live.nbytes
        )
        return {
            "type": self.kind,
            "params": self.params,
            "vectors": len(self),
            "memory_bytes": int(memory),
            "bytes_per_vector": round(memory / total, 1) if total else None,
            "tombstones": total - len(self),
            "rebuild_needed": self.rebuild_needed(),
            "compactions": self.compactions,
        }

    def __len__(self) -> int:
        return int(self._live.sum())


class _Gather:
    """Rows `slots` of `vectors`, sliced lazily so exact search never copies the whole subset at once."""

    def __init__(self, vectors: np.ndarray, slots: np.ndarray):
        self.vectors, self.slots = vectors, slots

    def __len__(self) -> int:
        return len(self.slots)

    def __getitem__(self, item: slice) -> np.ndarray:
        return self.vectors[self.slots[item]]
