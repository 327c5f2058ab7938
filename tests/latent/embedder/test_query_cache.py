"""The query-vector cache: LRU bounds, counters, keys that keep models apart, and vectors nobody can corrupt."""

from __future__ import annotations

import threading

import numpy as np
import pytest

from latent.embedder.base import Encoder
from latent.embedder.batcher import CoalescingEncoder
from latent.embedder.fake import FakeEncoder
from latent.embedder.query_cache import CachedEncoder, QueryVectorCache


class CountingEncoder(FakeEncoder):
    """A fake that records the texts of every call, to see which ones reached the model."""

    def __init__(self, **kwargs: object) -> None:
        super().__init__(**kwargs)  # type: ignore[arg-type]
        self.calls: list[list[str]] = []
        self._lock = threading.Lock()

    def encode(self, texts: list[str], batch_size: int | None = None) -> np.ndarray:
        with self._lock:
            self.calls.append(list(texts))
        return super().encode(texts, batch_size)


def vec(*values: float) -> np.ndarray:
    return np.asarray(values, dtype=np.float32)


def test_lru_evicts_the_least_recently_used() -> None:
    cache = QueryVectorCache(max_entries=2)
    cache.put("m", "b", "a", vec(1, 0))
    cache.put("m", "b", "b", vec(0, 1))
    assert cache.get("m", "b", "a") is not None  # "a" is now the most recent
    cache.put("m", "b", "c", vec(1, 1))
    assert cache.get("m", "b", "b") is None
    assert cache.get("m", "b", "a") is not None and cache.get("m", "b", "c") is not None
    assert len(cache) == 2 and cache.evictions == 1


def test_counters_and_hit_rate() -> None:
    cache = QueryVectorCache(max_entries=10)
    assert cache.hit_rate == 0.0
    cache.get("m", "b", "x")
    cache.put("m", "b", "x", vec(1))
    cache.get("m", "b", "x")
    cache.get("m", "b", "x")
    cache.get("m", "b", "y")
    assert (cache.hits, cache.misses, cache.hit_rate) == (2, 2, 0.5)
    assert cache.stats() == {"hits": 2, "misses": 2, "size": 1, "max_entries": 10, "evictions": 0, "hit_rate": 0.5}
    cache.clear()
    assert len(cache) == 0 and cache.stats()["hits"] == 2


def test_keys_keep_models_and_backends_apart() -> None:
    cache = QueryVectorCache()
    cache.put("m1", "torch", "q", vec(1, 0))
    cache.put("m1", "openvino-int8", "q", vec(0, 1))
    cache.put("m2", "torch", "q", vec(1, 1))
    assert cache.get("m1", "torch", "q").tolist() == [1, 0]
    assert cache.get("m1", "openvino-int8", "q").tolist() == [0, 1]
    assert cache.get("m2", "torch", "q").tolist() == [1, 1]
    assert cache.get("m2", "openvino-int8", "q") is None


def test_cached_vectors_cannot_be_corrupted() -> None:
    cache = QueryVectorCache()
    source = vec(1, 2, 3)
    cache.put("m", "b", "q", source)
    source[:] = 0  # the caller's array after put
    got = cache.get("m", "b", "q")
    assert got.tolist() == [1, 2, 3]
    with pytest.raises(ValueError):
        got[0] = 9
    with pytest.raises(ValueError):
        got.flags.writeable = True
    assert cache.get("m", "b", "q").tolist() == [1, 2, 3]


def test_put_many_checks_lengths() -> None:
    with pytest.raises(ValueError, match="2 texts but 1 vectors"):
        QueryVectorCache().put_many("m", "b", ["a", "b"], np.zeros((1, 4), dtype=np.float32))
    with pytest.raises(ValueError):
        QueryVectorCache(max_entries=0)


def test_cached_encoder_encodes_each_query_once() -> None:
    inner = CountingEncoder()
    encoder = CachedEncoder(inner, max_entries=100)
    assert isinstance(encoder, Encoder)
    first = encoder.encode(["protein folding"])
    second = encoder.encode(["protein folding"])
    np.testing.assert_allclose(first, FakeEncoder().encode(["protein folding"]), atol=1e-6)
    np.testing.assert_array_equal(first, second)
    assert inner.calls == [["protein folding"]]
    assert encoder.stats()["hits"] == 1 and encoder.stats()["misses"] == 1


def test_cached_encoder_encodes_only_the_misses_in_one_call() -> None:
    inner = CountingEncoder()
    encoder = CachedEncoder(inner)
    encoder.encode(["a b", "c d"])
    out = encoder.encode(["c d", "e f", "a b", "e f", "g h"])
    assert inner.calls == [["a b", "c d"], ["e f", "g h"]]  # misses deduplicated, hits not re-encoded
    np.testing.assert_allclose(out, FakeEncoder().encode(["c d", "e f", "a b", "e f", "g h"]), atol=1e-6)


def test_a_caller_writing_its_result_does_not_reach_the_cache() -> None:
    encoder = CachedEncoder(CountingEncoder())
    out = encoder.encode(["query"])
    out[:] = 0  # the returned matrix is the caller's own
    again = encoder.encode(["query"])
    assert again.flags.writeable
    np.testing.assert_allclose(again, FakeEncoder().encode(["query"]), atol=1e-6)


def test_large_calls_bypass_the_cache() -> None:
    inner = CountingEncoder()
    encoder = CachedEncoder(inner, max_texts_per_call=8)
    docs = [f"document {i}" for i in range(20)]
    encoder.encode(docs, batch_size=4)
    assert len(encoder.cache) == 0 and encoder.cache.stats()["misses"] == 0
    assert encoder.encode([]).shape == (0, inner.dimension)


def test_one_cache_serves_two_encoders_without_mixing_them() -> None:
    cache = QueryVectorCache()
    a = CachedEncoder(CountingEncoder(model_name="a", dimension=16), cache)
    b = CachedEncoder(CountingEncoder(model_name="b", dimension=32), cache)
    assert a.encode(["q"]).shape == (1, 16) and b.encode(["q"]).shape == (1, 32)
    assert len(cache) == 2 and cache.hits == 0


def test_attributes_pass_through() -> None:
    inner = FakeEncoder(dimension=24, max_seq_length=40, model_name="m")
    encoder = CachedEncoder(inner)
    assert (encoder.model_name, encoder.backend, encoder.dimension, encoder.max_seq_length) == ("m", "fake", 24, 40)
    assert encoder.special_tokens == 2 and encoder.tokenize(["x y"])[0].ids == inner.tokenize(["x y"])[0].ids


def test_concurrent_use_stays_bounded_and_correct() -> None:
    encoder = CachedEncoder(CoalescingEncoder(CountingEncoder()), max_entries=16)
    texts = [f"query {i % 40} words" for i in range(40)]
    errors: list[BaseException] = []

    def client(offset: int) -> None:
        try:
            for i in range(200):
                text = texts[(offset + i * 7) % len(texts)]
                np.testing.assert_allclose(encoder.encode([text]), FakeEncoder().encode([text]), atol=1e-6)
        except BaseException as exc:  # reported below, in the test's thread
            errors.append(exc)

    threads = [threading.Thread(target=client, args=(k,), daemon=True) for k in range(12)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
        assert not t.is_alive()
    assert not errors
    stats = encoder.stats()
    assert stats["size"] <= 16 and stats["hits"] + stats["misses"] == 12 * 200
