"""Query texts reach the model through the store's cache and batcher: concurrent searches get their own
answers, repeats come from the cache, and /metrics shows both (the batcher's own tests prove coalescing)."""

from __future__ import annotations

import re
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

from fastapi.testclient import TestClient

from latent.config import Settings
from service.main import create_app

SEARCH = "/v1/collections/papers/search"


def metric(text: str, name: str) -> float:
    found = re.search(rf"^{name} ([0-9.e+-]+)$", text, re.MULTILINE)
    assert found, f"{name} missing from /metrics"
    return float(found.group(1))


def papers_client(settings: Settings, corpus: list) -> TestClient:
    client = TestClient(create_app(settings)).__enter__()
    assert client.post("/v1/collections", json={"name": "papers"}).status_code == 201
    assert client.put("/v1/collections/papers/documents", json={"documents": corpus}).status_code == 200
    return client


def test_concurrent_searches_go_through_the_batcher_and_repeats_hit_the_cache(
    make_settings: Callable[..., Settings], make_corpus: Callable[..., list]
) -> None:
    corpus = make_corpus()
    client = papers_client(make_settings(query_batch_wait_ms=5), corpus)
    try:
        queries = [doc["text"] for doc in corpus[:16]]
        with ThreadPoolExecutor(16) as pool:
            answers = list(pool.map(lambda q: client.post(SEARCH, json={"query": q, "k": 1}), queries))
        assert [a.status_code for a in answers] == [200] * 16
        assert [a.json()["hits"][0]["id"] for a in answers] == [doc["id"] for doc in corpus[:16]]
        first = client.get("/metrics").text
        assert metric(first, "latent_query_cache_misses") == 16
        assert metric(first, "latent_query_batch_calls") == 16  # every miss went through the batcher
        assert 1 <= metric(first, "latent_query_batches") <= 16

        again = client.post(SEARCH, json={"query": queries[0], "k": 1})
        assert again.json()["hits"][0]["id"] == corpus[0]["id"]
        second = client.get("/metrics").text
        assert metric(second, "latent_query_cache_hits") == 1
        assert metric(second, "latent_query_batch_calls") == 16  # answered from the cache, not the model
        assert 0 < metric(second, "latent_query_cache_hit_rate") < 1
    finally:
        client.__exit__(None, None, None)


def test_batching_and_cache_can_be_turned_off(
    make_settings: Callable[..., Settings], make_corpus: Callable[..., list]
) -> None:
    corpus = make_corpus()
    client = papers_client(make_settings(query_batch_wait_ms=0, query_cache_size=0), corpus)
    try:
        for _ in range(2):
            assert client.post(SEARCH, json={"query": corpus[3]["text"], "k": 1}).json()["hits"][0]["id"] == "doc-3"
        text = client.get("/metrics").text
        assert "latent_query_cache_hits" not in text
        assert metric(text, "latent_query_batch_calls") == 0
    finally:
        client.__exit__(None, None, None)
