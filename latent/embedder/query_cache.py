"""A bounded LRU cache of query vectors, and an encoder that consults it before encoding.

Queries repeat (popular searches, recommendation lookups by the same example texts), and a vector depends
only on (model, backend, text), so a repeated query need not run the model again. At 384 float32 dimensions
an entry is ~1.5 KiB: 10,000 entries cost ~15 MiB.
"""

from __future__ import annotations

import threading
from collections import OrderedDict

import numpy as np

from latent.embedder.base import Encoder
from latent.embedder.wrapper import EncoderWrapper

CacheKey = tuple[str, str, str]  # (model, backend, text)


class QueryVectorCache:
    """Thread-safe LRU of read-only vectors keyed by (model, backend, text), with hit/miss counters.

    One cache may serve several encoders: the key names the model and backend, so their vectors never mix.
    """

    def __init__(self, max_entries: int = 10_000) -> None:
        if max_entries < 1:
            raise ValueError("max_entries must be >= 1")
        self.max_entries = max_entries
        self._entries: OrderedDict[CacheKey, np.ndarray] = OrderedDict()
        self._lock = threading.Lock()
        self.hits = 0
        self.misses = 0
        self.evictions = 0

    def __len__(self) -> int:
        return len(self._entries)

    @property
    def hit_rate(self) -> float:
        """Hits over lookups so far (0.0 before the first lookup)."""
        lookups = self.hits + self.misses
        return self.hits / lookups if lookups else 0.0

    def get(self, model: str, backend: str, text: str) -> np.ndarray | None:
        """The cached vector, read-only: it lies in an immutable bytes buffer, so it cannot be made writable."""
        return self.get_many(model, backend, [text])[0]

    def get_many(self, model: str, backend: str, texts: list[str]) -> list[np.ndarray | None]:
        """One lookup per text under one lock acquisition; each found entry becomes most recently used."""
        out: list[np.ndarray | None] = []
        with self._lock:
            for text in texts:
                vector = self._entries.get((model, backend, text))
                if vector is None:
                    self.misses += 1
                    out.append(None)
                else:
                    self._entries.move_to_end((model, backend, text))
                    self.hits += 1
                    out.append(vector)
        return out

    def put(self, model: str, backend: str, text: str, vector: np.ndarray) -> None:
        self.put_many(model, backend, [text], np.asarray(vector)[None, :])

    def put_many(self, model: str, backend: str, texts: list[str], vectors: np.ndarray) -> None:
        """Store a copy of each row (a caller's later writes to `vectors` never reach the cache)."""
        if len(texts) != len(vectors):
            raise ValueError(f"{len(texts)} texts but {len(vectors)} vectors")
        # Backed by bytes, a row's `writeable` flag cannot be switched back on, even through `.base`.
        rows = [np.frombuffer(np.asarray(v, dtype=np.float32).tobytes(), dtype=np.float32) for v in vectors]
        with self._lock:
            for text, row in zip(texts, rows, strict=True):
                key = (model, backend, text)
                self._entries[key] = row
                self._entries.move_to_end(key)
            while len(self._entries) > self.max_entries:
                self._entries.popitem(last=False)
                self.evictions += 1

    def clear(self) -> None:
        """Drop every entry (the counters stay: they describe the process, not the contents)."""
        with self._lock:
            self._entries.clear()

    def stats(self) -> dict[str, float | int]:
        """Counters for /metrics."""
        with self._lock:
            hits, misses, size, evictions = self.hits, self.misses, len(self._entries), self.evictions
        lookups = hits + misses
        return {
            "hits": hits,
            "misses": misses,
            "size": size,
            "max_entries": self.max_entries,
            "evictions": evictions,
            "hit_rate": round(hits / lookups, 6) if lookups else 0.0,
        }


class CachedEncoder(EncoderWrapper):
    """An `Encoder` whose small calls (queries) are answered from a `QueryVectorCache`, encoding only misses.

    Calls of more than `max_texts_per_call` texts (indexing batches) bypass the cache: documents rarely
    repeat, and they would evict the queries that do. Wrap a `CoalescingEncoder` to batch the misses too.

    Args:
        inner: the encoder for misses.
        cache: a cache to share between encoders; a private one of `max_entries` when None.
    """

    def __init__(
        self,
        inner: Encoder,
        cache: QueryVectorCache | None = None,
        *,
        max_entries: int = 10_000,
        max_texts_per_call: int = 8,
    ) -> None:
        super().__init__(inner)
        self.cache = cache if cache is not None else QueryVectorCache(max_entries)
        self.max_texts_per_call = max_texts_per_call

    def stats(self) -> dict[str, float | int]:
        return self.cache.stats()

    def encode(self, texts: list[str], batch_size: int | None = None) -> np.ndarray:
        """A fresh, writable matrix of unit rows: cached rows copied in, misses encoded in one inner call."""
        texts = list(texts)
        if not texts or len(texts) > self.max_texts_per_call:
            return self.inner.encode(texts, batch_size)
        model, backend = self.inner.model_name, self.inner.backend
        found = self.cache.get_many(model, backend, texts)
        missing = list(dict.fromkeys(t for t, v in zip(texts, found, strict=True) if v is None))
        out = np.empty((len(texts), self.dimension), dtype=np.float32)
        fresh: dict[str, np.ndarray] = {}
        if missing:
            encoded = np.asarray(self.inner.encode(missing, batch_size), dtype=np.float32)
            self.cache.put_many(model, backend, missing, encoded)
            fresh = dict(zip(missing, encoded, strict=True))
        for i, (text, vector) in enumerate(zip(texts, found, strict=True)):
            out[i] = vector if vector is not None else fresh[text]
        return out
