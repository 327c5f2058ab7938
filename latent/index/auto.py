"""'auto': pick flat, HNSW or IVF-PQ from the collection size and a memory budget, and move up as it grows.

Tiers: exact flat below `flat_max` vectors (exact is fast enough there and needs no tuning); HNSW up
to `hnsw_max` vectors if its full vectors + graph fit in `memory`; IVF-PQ (compressed, ~56 B/vector)
beyond. The tier is chosen at creation from `size_hint` and re-checked after every add: crossing a
threshold migrates the live vectors into the next tier in place (flat and HNSW keep full vectors, so
no trip to SQL is needed). It never moves down; the store's rebuild (with a size_hint) does that.
"""

from __future__ import annotations

import os
from typing import Any

import numpy as np

from latent.index.base import SearchResult, check_metric
from latent.index.codec import pack, parse_bytes, unpack

FLAT_MAX = 50_000
HNSW_MAX = 4_000_000


def default_memory_budget() -> int:
    """Half of physical memory: the rest is for the encoder, SQLite and the OS cache."""
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") // 2
    except (ValueError, OSError, AttributeError):  # pragma: no cover - non-POSIX
        return 8 * 2**30


def hnsw_params_for(n: int) -> dict[str, Any]:
    """Larger graphs need a wider search for the same recall (measured with bench/ann.py)."""
    return {"M": 32, "ef_construction": 80, "ef_search": 64 if n <= 200_000 else 128}


def choose(
    n: int, dimension: int, *, flat_max: int = FLAT_MAX, hnsw_max: int = HNSW_MAX, memory: int | None = None
) -> tuple[str, dict[str, Any], str]:
    """(kind, params, reason) for a collection of n vectors."""
    from latent.index.hnsw import HNSWIndex
    from latent.index.ivfpq import default_nlist

    budget = memory or default_memory_budget()
    flat_bytes = n * (4 * dimension + 8)
    if n < flat_max and flat_bytes <= budget:
        return "flat", {}, f"{n} vectors < flat_max={flat_max}: exact search"
    hnsw = hnsw_params_for(n)
    hnsw_bytes = HNSWIndex.estimate_bytes(n, dimension, hnsw["M"])
    if n < hnsw_max and hnsw_bytes <= budget:
        return (
            "hnsw",
            hnsw,
            f"{n} vectors < hnsw_max={hnsw_max} and HNSW needs ~{hnsw_bytes >> 20} MiB <= budget",
        )
    why = (
        f"{n} vectors >= hnsw_max={hnsw_max}" if n >= hnsw_max else f"HNSW would need ~{hnsw_bytes >> 20} MiB > budget"
    )
    pq_m = next(m for m in (48, 32, 24, 16, 12, 8, 6, 4, 3, 2, 1) if dimension % m == 0)
    return "ivf-pq", {"nlist": default_nlist(n), "pq_m": pq_m}, why + ": compressed IVF-PQ"


class AutoIndex:
    """Delegates to the chosen backend; `stats()` says which one and why."""

    kind = "auto"
    PARAMS = {"flat_max": int, "hnsw_max": int, "memory": str, "metric": check_metric}

    def __init__(
        self,
        dimension: int,
        flat_max: int = FLAT_MAX,
        hnsw_max: int = HNSW_MAX,
        memory: int | str | None = None,
        size_hint: int | None = None,
        metric: str = "ip",
        *,
        inner: Any = None,
        reason: str | None = None,
    ):
        self.dimension = dimension
        self.flat_max, self.hnsw_max = flat_max, hnsw_max
        self.memory = parse_bytes(memory) if memory is not None else None
        self.metric = check_metric(metric)
        if inner is None:
            kind, params, reason = self._choose(size_hint or 0)
            inner = self._build(kind, params, size_hint)
        self.inner = inner
        self.reason = reason or ""

    @classmethod
    def from_params(cls, dimension: int, params: dict[str, Any], size_hint: int | None = None) -> AutoIndex:
        return cls(dimension, size_hint=size_hint, **params)

    @property
    def params(self) -> dict[str, Any]:
        return {"flat_max": self.flat_max, "hnsw_max": self.hnsw_max, "memory": self.memory, "metric": self.metric}

    def _choose(self, n: int) -> tuple[str, dict[str, Any], str]:
        return choose(n, self.dimension, flat_max=self.flat_max, hnsw_max=self.hnsw_max, memory=self.memory)

    def _build(self, kind: str, params: dict[str, Any], size_hint: int | None) -> Any:
        cls = _inner_class(kind)
        if kind == "flat":
            return cls(self.dimension, metric=self.metric)
        return cls.from_params(self.dimension, dict(params, metric=self.metric), size_hint=size_hint)

    def _maybe_migrate(self) -> None:
        n = len(self.inner)
        kind, params, reason = self._choose(n)
        order = ("flat", "hnsw", "ivf-pq")
        if order.index(kind) <= order.index(self.inner.kind):
            return
        ids, vectors = _live_vectors(self.inner)
        target = self._build(kind, params, n)
        target.add(ids, vectors)
        self.inner, self.reason = target, f"grew to {n} vectors; {reason}"

    def ids(self) -> np.ndarray:
        return self.inner.ids()

    def add(self, ids: np.ndarray, vectors: np.ndarray) -> None:
        self.inner.add(ids, vectors)
        self._maybe_migrate()

    def remove(self, ids: np.ndarray) -> int:
        return self.inner.remove(ids)

    def search(self, queries: np.ndarray, k: int, allowed: np.ndarray | None = None) -> SearchResult:
        return self.inner.search(queries, k, allowed)

    def exact_search(self, queries: np.ndarray, k: int) -> SearchResult:
        if self.inner.kind == "flat":
            return self.inner.search(queries, k)
        return self.inner.exact_search(queries, k)

    def rebuild_needed(self) -> bool:
        return bool(getattr(self.inner, "rebuild_needed", lambda: False)())

    def serialize(self) -> bytes:
        inner = np.frombuffer(self.inner.serialize(), dtype=np.uint8)
        header = {"params": self.params, "picked": self.inner.kind, "reason": self.reason}
        return pack(self.kind, header, {"inner": inner})

    @classmethod
    def deserialize(cls, dimension: int, data: bytes, params: dict | None = None) -> AutoIndex:
        meta, arrays = unpack(cls.kind, data)
        inner = _inner_class(meta["picked"]).deserialize(dimension, arrays["inner"].tobytes(), {})
        return cls(dimension, **meta["params"], inner=inner, reason=meta["reason"])

    def stats(self) -> dict[str, Any]:
        inner = self.inner.stats()
        return dict(
            inner,
            type=self.kind,
            picked=self.inner.kind,
            picked_params=inner.get("params", {}),
            reason=self.reason,
            params=self.params,
        )

    def __len__(self) -> int:
        return len(self.inner)


def _inner_class(kind: str) -> Any:
    """The concrete backend AutoIndex delegates to (imported directly, not through the factory)."""
    if kind == "flat":
        from latent.index.flat import FlatIndex

        return FlatIndex
    if kind == "hnsw":
        from latent.index.hnsw import HNSWIndex

        return HNSWIndex
    from latent.index.ivfpq import IVFPQIndex

    return IVFPQIndex


def _live_vectors(index: Any) -> tuple[np.ndarray, np.ndarray]:
    """(ids, vectors) out of a flat or HNSW index, for migration."""
    if index.kind == "flat":
        import faiss

        n = len(index)
        ids = faiss.vector_to_array(index.index.id_map).astype(np.int64)
        return ids, index.index.index.reconstruct_n(0, n)
    return index.live_vectors()
