"""LATENT_QUERY_BACKEND over HTTP: an agreeing backend serves queries, a disagreeing one is a 409, never a 500."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import numpy as np
import pytest
from fastapi.testclient import TestClient

from latent.config import Settings
from latent.embedder.fake import FakeEncoder
from latent.store.store import Store
from service.main import create_app

SEARCH = "/v1/collections/papers/search"


class OtherSpaceEncoder(FakeEncoder):
    """The fake encoder with other per-word directions: vectors that do not agree with the collection's."""

    backend = "openvino-int8"

    def _direction(self, word: str) -> np.ndarray:
        return super()._direction(f"{word}#other")


@pytest.fixture
def client_for(
    make_settings: Callable[..., Settings], make_corpus: Callable[..., list], monkeypatch: pytest.MonkeyPatch
) -> Iterator[Callable[..., TestClient]]:
    """A client whose store encodes queries with `query_backend` ('openvino-int8' disagrees), papers indexed."""
    other = OtherSpaceEncoder()
    original = Store.encoder

    def encoder(self: Store, model: str | None = None, backend: str | None = None):
        return other if backend == "openvino-int8" else original(self, model, backend)

    monkeypatch.setattr(Store, "encoder", encoder)
    clients: list[TestClient] = []

    def make(query_backend: str) -> TestClient:
        client = TestClient(create_app(make_settings(query_backend=query_backend))).__enter__()
        clients.append(client)
        assert client.post("/v1/collections", json={"name": "papers"}).status_code == 201
        assert client.put("/v1/collections/papers/documents", json={"documents": make_corpus()}).status_code == 200
        return client

    yield make
    for client in clients:
        client.__exit__(None, None, None)


def test_disagreeing_query_backend_is_a_conflict(
    client_for: Callable[..., TestClient], expect_error: Callable[..., dict]
) -> None:
    client = client_for("openvino-int8")
    error = expect_error(client.post(SEARCH, json={"query": "quantum particle energy"}), 409, "backend_mismatch")
    details = error["details"]
    assert details["backend"] == "torch" and details["query_backend"] == "openvino-int8"
    # Measured when the create response reported the empty collection: on the 64 calibration texts.
    assert details["mean_cosine"] < details["required"] == 0.98 and details["sample"] == 64
    assert "openvino-int8" in error["message"] and "papers" in error["message"]
    recommend = client.post("/v1/collections/papers/recommend", json={"positive": [{"text": "quantum"}]})
    expect_error(recommend, 409, "backend_mismatch")
    # Stored vectors need no query encoder; the collection stays readable and writable.
    near = client.get("/v1/collections/papers/neighbors/doc-1", params={"k": 2, "with_vector": True}).json()
    vector = near["hits"][0]["vector"]
    assert client.post(SEARCH, json={"vector": vector, "k": 1}).json()["hits"][0]["id"] == near["hits"][0]["id"]
    info = client.get("/v1/collections/papers").json()
    assert info["query_backend"] == "openvino-int8"
    assert info["backend_agreement"]["mean_cosine"] == details["mean_cosine"]
    assert client.delete("/v1/collections/papers").status_code == 204


def test_agreeing_query_backend_serves_and_reports(client_for: Callable[..., TestClient]) -> None:
    client = client_for("onnx")  # the fake model gives the same vectors on every backend
    response = client.post(SEARCH, json={"query": "quantum particle energy", "k": 3})
    assert response.status_code == 200, response.text
    assert response.json()["hits"][0]["title"].startswith("physics")
    info = client.get("/v1/collections/papers").json()
    assert info["backend"] == "torch" and info["query_backend"] == "onnx"
    agreement = info["backend_agreement"]
    assert agreement["reference"] == "torch" and agreement["candidate"] == "onnx" and agreement["sample"] == 64
    assert agreement["mean_cosine"] == pytest.approx(1.0) and agreement["min_cosine"] == pytest.approx(1.0)


def test_fields_are_null_without_a_query_backend(client: TestClient) -> None:
    client.post("/v1/collections", json={"name": "papers"})
    info = client.get("/v1/collections/papers").json()
    assert info["query_backend"] is None and info["backend_agreement"] is None
