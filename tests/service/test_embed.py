"""Embed and tokenize: shapes, model names, chunking flag, collection models, limits."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
from fastapi.testclient import TestClient
from latent_client import LatentClient


def test_embed(client: TestClient) -> None:
    body = client.post("/v1/embed", json={"texts": ["protein folding", "protein folding", "galaxy"]}).json()
    assert body["model"] == "fake" and body["dimension"] == 64
    vectors = np.asarray(body["vectors"])
    assert vectors.shape == (3, 64)
    assert np.allclose(np.linalg.norm(vectors, axis=1), 1, atol=1e-5)
    assert np.allclose(vectors[0], vectors[1]) and not np.allclose(vectors[0], vectors[2])


def test_embed_with_collection_model(client: TestClient) -> None:
    client.post("/v1/collections", json={"name": "wide", "model": "fake:32"})
    body = client.post("/v1/embed", json={"texts": ["x"], "collection": "wide"}).json()
    assert body["model"] == "fake:32" and body["dimension"] == 32 and len(body["vectors"][0]) == 32


def test_embed_errors(client: TestClient, expect_error: Callable[..., dict]) -> None:
    expect_error(client.post("/v1/embed", json={"texts": []}), 400, "empty_batch")
    expect_error(client.post("/v1/embed", json={"texts": "not a list"}), 422, "validation_error")
    expect_error(client.post("/v1/embed", json={"texts": ["a"], "collection": "ghost"}), 404, "collection_not_found")


def test_tokenize(client: TestClient) -> None:
    long_text = " ".join(f"word{i}" for i in range(100))
    body = client.post("/v1/tokenize", json={"texts": ["Hello, world", long_text]}).json()
    assert body["model"] == "fake" and body["max_tokens"] == 62  # 64 positions minus 2 special tokens
    short, long = body["results"]
    assert short == {"tokens": ["hello", ",", "world"], "ids": short["ids"], "count": 3, "chunked": False}
    assert len(short["ids"]) == 3 and all(isinstance(i, int) for i in short["ids"])
    assert long["count"] == 100 and long["chunked"] is True


def test_tokenize_uses_collection_chunk_size(make_settings: Callable, api: LatentClient) -> None:
    api.create_collection("papers")
    result = api.tokenize(["one two three"], collection="papers")
    assert result.max_tokens == api.get_collection("papers").chunk_tokens


def test_typed_client_embed(api: LatentClient) -> None:
    result = api.embed(["a b c"])
    assert result.dimension == 64 and len(result.vectors) == 1
