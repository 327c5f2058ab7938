"""Collections: list envelope, create (201, 409), get, drop."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta

from fastapi.testclient import TestClient


def test_list_starts_empty(client: TestClient) -> None:
    assert client.get("/v1/collections").json() == {"data": [], "count": 0}


def test_create_get_list_delete(client: TestClient, expect_error: Callable[..., dict]) -> None:
    created = client.post("/v1/collections", json={"name": "papers"})
    assert created.status_code == 201
    body = created.json()
    assert body["name"] == "papers" and body["model"] == "fake" and body["dimension"] == 64
    assert body["documents"] == 0 and body["chunks"] == 0 and body["index"] == "auto"  # the default
    assert body["index_stats"]["picked"] == "flat"  # exact below 50k vectors
    assert datetime.fromisoformat(body["created_at"]).utcoffset() == timedelta(0)  # aware UTC, even on SQLite

    client.put("/v1/collections/papers/documents", json={"documents": [{"id": "a", "text": "hello world"}]})
    info = client.get("/v1/collections/papers").json()
    assert info["documents"] == 1 and info["chunks"] == 1

    listing = client.get("/v1/collections").json()
    assert listing["count"] == 1 and [c["name"] for c in listing["data"]] == ["papers"]

    assert client.delete("/v1/collections/papers").status_code == 204
    expect_error(client.get("/v1/collections/papers"), 404, "collection_not_found")
    assert client.get("/v1/collections").json()["count"] == 0


def test_create_with_index(client: TestClient) -> None:
    response = client.post("/v1/collections", json={"name": "small", "index": "numpy"})
    assert response.status_code == 201 and response.json()["index"] == "numpy"


def test_recreated_collection_starts_empty(client: TestClient) -> None:
    client.post("/v1/collections", json={"name": "papers"})
    client.put("/v1/collections/papers/documents", json={"documents": [{"id": "a", "text": "hello"}]})
    client.delete("/v1/collections/papers")
    client.post("/v1/collections", json={"name": "papers"})
    assert client.get("/v1/collections/papers").json()["documents"] == 0
    hits = client.post("/v1/collections/papers/search", json={"query": "hello"}).json()["hits"]
    assert hits == []


def test_create_twice_conflicts(client: TestClient, expect_error: Callable[..., dict]) -> None:
    client.post("/v1/collections", json={"name": "papers"})
    error = expect_error(client.post("/v1/collections", json={"name": "papers"}), 409, "collection_exists")
    assert error["details"] == {"name": "papers"}


def test_invalid_name(client: TestClient, expect_error: Callable[..., dict]) -> None:
    expect_error(client.post("/v1/collections", json={"name": "no spaces"}), 400, "invalid_collection_name")


def test_unknown_model(client: TestClient, expect_error: Callable[..., dict]) -> None:
    response = client.post("/v1/collections", json={"name": "x", "model": "no-such-model"})
    assert "never downloads" in expect_error(response, 400, "model_unavailable")["message"]


def test_drop_unknown(client: TestClient, expect_error: Callable[..., dict]) -> None:
    expect_error(client.delete("/v1/collections/ghost"), 404, "collection_not_found")
