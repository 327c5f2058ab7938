"""The encoders a store hands out: each loaded model behind one query cache and one coalescing batcher.

Concurrent single-query requests (search, recommend with text examples, embed, VAE texts) then share
one forward pass (latent/embedder/batcher.py), and repeated queries skip the model altogether
(latent/embedder/query_cache.py). Large calls (indexing batches) pass straight through both. Settings:
`LATENT_QUERY_BATCH_WAIT_MS` (0 turns batching off), `LATENT_QUERY_BATCH_MAX`, `LATENT_QUERY_CACHE_SIZE`
(0 turns the cache off).
"""

from __future__ import annotations

import threading
from typing import Any

from latent.config import Settings
from latent.embedder.base import Encoder
from latent.embedder.batcher import CoalescingEncoder
from latent.embedder.query_cache import CachedEncoder, QueryVectorCache
from latent.embedder.wrapper import EncoderWrapper

# torch answers up to 8 texts with one plain forward pass (SentenceTransformerEncoder._encode_small) and
# bigger batches through sentence-transformers' slower encode loop: coalesce at most 8 there.
TORCH_BATCH = 8
# Dynamic int8 scales activations by each batch's own range, so a query's vector would depend on the
# strangers batched with it (cosine to its lone vector as low as 0.992, measured): never coalesced. Static
# int8 (openvino-int8) has fixed scales; batching changes its rows only by padding effects (>= 0.9997).
UNBATCHED_BACKENDS = frozenset({"onnx-int8"})


class ServingEncoders:
    """One wrapper per loaded encoder (so every caller of one model shares its batcher), one cache for all."""

    def __init__(self, settings: Settings):
        self.settings = settings
        self.cache = QueryVectorCache(settings.query_cache_size) if settings.query_cache_size > 0 else None
        self._wrapped: dict[int, tuple[Encoder, Encoder, CoalescingEncoder | None]] = {}
        self._lock = threading.Lock()

    def wrap(self, inner: Encoder) -> Encoder:
        with self._lock:
            known = self._wrapped.get(id(inner))
            if known is not None and known[0] is inner:
                return known[1]
            outer: Encoder = inner
            batcher = None
            backend = inner.backend
            if self.settings.query_batch_wait_ms > 0 and backend not in UNBATCHED_BACKENDS:
                limit = (
                    min(self.settings.query_batch_max, TORCH_BATCH)
                    if backend == "torch"
                    else self.settings.query_batch_max
                )
                batcher = CoalescingEncoder(inner, max_wait_ms=self.settings.query_batch_wait_ms, max_batch=limit)
                outer = batcher
            if self.cache is not None:
                outer = CachedEncoder(outer, self.cache)
            self._wrapped[id(inner)] = (inner, outer, batcher)
            return outer

    def stats(self) -> dict[str, Any]:
        """For /metrics: the cache's counters and the batchers' totals."""
        with self._lock:
            batchers = [b for _, _, b in self._wrapped.values() if b is not None]
        batches = [b.stats() for b in batchers]
        calls = sum(int(s["calls"]) for s in batches)
        batched = sum(int(s["batches"]) for s in batches)
        texts = sum(int(s["texts"]) for s in batches)
        return {
            "cache": self.cache.stats() if self.cache is not None else None,
            "batching": {
                "calls": calls,
                "batches": batched,
                "texts": texts,
                "mean_batch_size": texts / batched if batched else 0.0,
            },
        }


def unwrap(encoder: Encoder) -> Encoder:
    """The loaded encoder under any serving wrappers (what a collection's queries really run on)."""
    while isinstance(encoder, EncoderWrapper):
        encoder = encoder.inner
    return encoder
