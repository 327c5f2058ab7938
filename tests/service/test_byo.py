"""Bring-your-own-vector collections over HTTP: create, upsert, search, recommend, cluster and map them."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from fastapi.testclient import TestClient

from latent.config import get_settings
from service.main import create_app

Expect = Callable[[Any, int, str], dict[str, Any]]
DIM = 8
BASE = "/v1/collections/own"
WORDS = ("apple banana cherry", "violin cello piano", "granite basalt quartz")


def _vectors() -> dict[str, list[float]]:
    """Three tight groups of 10 vectors (A, B, C) with lengths far from 1 (dot and l2 must keep them)."""
    rng = np.random.default_rng(3)
    centres = np.eye(DIM, dtype=np.float32)[:3] * 4.0
    out = {}
    for g, name in enumerate("ABC"):
        for i in range(10):
            out[f"{name}{i}"] = (centres[g] + 0.1 * rng.standard_normal(DIM)).astype(np.float32).tolist()
    return out


VECTORS = _vectors()


def _docs() -> list[dict[str, Any]]:
    return [
        {"id": key, "text": f"{WORDS['ABC'.index(key[0])]} {key}", "metadata": {"group": key[0]}, "vector": vec}
        for key, vec in VECTORS.items()
    ]


def _run_job(client: TestClient, path: str, body: dict[str, Any]) -> dict[str, Any]:
    response = client.post(path, json=body)
    assert response.status_code == 202, response.text
    job = response.json()
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline:
        current = client.get(f"/v1/jobs/{job['id']}").json()
        if current["status"] in ("succeeded", "failed", "cancelled"):
            assert current["status"] == "succeeded", current
            return current["result"]
        time.sleep(0.05)
    raise AssertionError("job did not finish")


@pytest.fixture(scope="module")
def client(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TestClient]:
    home: Path = tmp_path_factory.mktemp("byo") / "home"
    with TestClient(create_app(get_settings(home=home, model="fake"))) as test_client:
        created = test_client.post("/v1/collections", json={"name": "own", "dimension": DIM, "metric": "dot"})
        assert created.status_code == 201, created.text
        upserted = test_client.put(f"{BASE}/documents", json={"documents": _docs()})
        assert upserted.status_code == 200, upserted.text
        assert upserted.json()["upserted"] == len(VECTORS)
        yield test_client


def test_collection_shows_no_encoder(client: TestClient) -> None:
    info = client.get(BASE).json()
    assert info["model"] is None and info["encoder"] is False and info["backend"] is None
    assert (info["dimension"], info["metric"], info["documents"]) == (DIM, "dot", len(VECTORS))
    listed = {c["name"]: c for c in client.get("/v1/collections").json()["data"]}
    assert listed["own"]["encoder"] is False


def test_upsert_checks_vectors(client: TestClient, expect_error: Expect) -> None:
    short = {"id": "x", "text": "t", "vector": [1.0] * (DIM - 1)}
    error = expect_error(client.put(f"{BASE}/documents", json={"documents": [short]}), 400, "dimension_mismatch")
    assert error["details"]["expected"] == DIM
    missing = {"id": "x", "text": "no vector"}
    expect_error(client.put(f"{BASE}/documents", json={"documents": [missing]}), 400, "no_encoder")
    same = client.put(f"{BASE}/documents", json={"documents": _docs()[:2]}).json()
    assert same["unchanged"] == 2 and same["upserted"] == 0
    # a model collection refuses foreign vectors
    assert client.post("/v1/collections", json={"name": "modelled"}).status_code == 201
    doc = {"id": "m", "text": "t", "vector": [1.0] * DIM}
    path = "/v1/collections/modelled/documents"
    expect_error(client.put(path, json={"documents": [doc]}), 400, "vector_not_accepted")
    expect_error(client.post("/v1/collections", json={"name": "bad", "dimension": 0}), 422, "validation_error")
    bad_metric = {"name": "bad", "dimension": 4, "metric": "hamming"}
    expect_error(client.post("/v1/collections", json=bad_metric), 422, "validation_error")


def test_search_by_vector_text_is_no_encoder(client: TestClient, expect_error: Expect) -> None:
    error = expect_error(client.post(f"{BASE}/search", json={"query": "apple"}), 400, "no_encoder")
    assert "vector" in error["message"]
    body = client.post(f"{BASE}/search", json={"vector": VECTORS["B4"], "k": 5, "with_vector": True}).json()
    hits = body["hits"]
    # dot: the raw inner product (not a cosine), as brute force ranks it
    dots = {key: float(np.dot(VECTORS["B4"], vec)) for key, vec in VECTORS.items()}
    want = sorted(dots, key=lambda key: -dots[key])[:5]
    assert [h["id"] for h in hits] == want and all(h["id"].startswith("B") for h in hits)
    assert [h["score"] for h in hits] == pytest.approx([dots[key] for key in want], rel=1e-4)
    assert hits[0]["vector"] == pytest.approx(VECTORS[want[0]], rel=1e-5)  # as given, not normalised
    batch = client.post(f"{BASE}/search/batch", json={"vectors": [VECTORS["A0"], VECTORS["C0"]], "k": 1}).json()
    assert [r["hits"][0]["id"][0] for r in batch["results"]] == ["A", "C"]
    expect_error(client.post(f"{BASE}/search/batch", json={"queries": ["apple"]}), 400, "no_encoder")


def test_sparse_and_hybrid_use_stored_text(client: TestClient, expect_error: Expect) -> None:
    sparse = client.post(f"{BASE}/search", json={"query": "violin", "mode": "sparse", "k": 3}).json()["hits"]
    assert sparse and all(h["id"].startswith("B") for h in sparse)
    expect_error(client.post(f"{BASE}/search", json={"query": "violin", "mode": "hybrid"}), 400, "no_encoder")
    hybrid = client.post(
        f"{BASE}/search", json={"query": "granite", "vector": VECTORS["C2"], "mode": "hybrid", "k": 3}
    ).json()["hits"]
    assert len(hybrid) == 3 and all(h["id"].startswith("C") for h in hybrid)
    filtered = client.post(f"{BASE}/search", json={"vector": VECTORS["C2"], "filter": {"group": "A"}, "k": 3}).json()
    assert [h["id"][0] for h in filtered["hits"]] == ["A", "A", "A"]


def test_get_delete_and_neighbours(client: TestClient) -> None:
    doc = client.get(f"{BASE}/documents/A3").json()
    assert doc["chunk_count"] == 1 and doc["metadata"] == {"group": "A"}
    near = client.get(f"{BASE}/neighbors/A3?k=4").json()["hits"]
    assert len(near) == 4 and all(h["id"].startswith("A") and h["id"] != "A3" for h in near)
    extra = {"id": "tmp", "text": "temporary", "vector": [0.5] * DIM}
    assert client.put(f"{BASE}/documents", json={"documents": [extra]}).json()["upserted"] == 1
    assert client.delete(f"{BASE}/documents/tmp").json()["deleted"] == 1
    assert client.get(f"{BASE}/documents/tmp").status_code == 404


def test_recommend_from_documents_and_vectors(client: TestClient, expect_error: Expect) -> None:
    body = client.post(f"{BASE}/recommend", json={"positive": ["A0", "A1"], "negative": ["B0"], "k": 5}).json()
    assert body["hits"] and all(h["id"].startswith("A") for h in body["hits"])
    by_vector = client.post(f"{BASE}/recommend", json={"positive": [{"vector": VECTORS["C1"]}], "k": 3}).json()
    assert all(h["id"].startswith("C") for h in by_vector["hits"])
    text = client.post(f"{BASE}/recommend", json={"positive": [{"text": "apple"}]})
    expect_error(text, 400, "no_encoder")


def test_cluster_and_map(client: TestClient, expect_error: Expect) -> None:
    clustering = _run_job(client, f"{BASE}/clusterings", {"algorithm": "kmeans", "k": 3})
    clusters = client.get(f"{BASE}/clusterings/{clustering['clustering_id']}").json()["clusters"]
    assert sorted(c["size"] for c in clusters) == [10, 10, 10]
    result = _run_job(client, f"{BASE}/maps", {"n_neighbors": 5, "min_dist": 0.1})
    points = client.get(f"{BASE}/maps/{result['map_id']}/points?limit=100").json()
    assert points["count"] == len(VECTORS)
    project = f"{BASE}/maps/{result['map_id']}/project"
    placed = client.post(project, json={"vectors": [VECTORS["A0"]]}).json()["points"]
    assert len(placed) == 1
    expect_error(client.post(project, json={"texts": ["apple"]}), 400, "no_encoder")


def test_vae_trains_and_samples(client: TestClient, expect_error: Expect) -> None:
    params = {"latent_dim": 4, "hidden_dim": 32, "epochs": 20, "batch_size": 8, "prior": "gaussian", "random_state": 0}
    _run_job(client, f"{BASE}/vae", params)
    samples = client.post(f"{BASE}/vae/sample", json={"n": 3, "seed": 1}).json()
    assert len(samples["samples"]) == 3
    path = f"{BASE}/vae/interpolate"
    steps = client.post(path, json={"start": "A0", "end": "C0", "steps": 3}).json()
    assert len(steps["steps"]) == 3 and steps["steps"][0]["neighbors"][0]["id"].startswith("A")
    expect_error(client.post(f"{BASE}/vae/encode", json={"texts": ["apple"]}), 400, "no_encoder")
