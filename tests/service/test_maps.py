"""Maps through HTTP: one module-wide app and map (UMAP's JIT is slow the first time in a process)."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from fastapi.testclient import TestClient
from helpers.topics import PER_TOPIC, topic_docs
from sqlalchemy import func, select

from latent.config import get_settings
from latent.records import DocumentInput
from latent.store.feature_models import MapPointRow
from service.main import create_app

Expect = Callable[[Any, int, str], dict[str, Any]]
BASE = "/v1/collections/topics"
N = 3 * PER_TOPIC


def wait_job(client: TestClient, job: dict[str, Any], timeout: float = 300.0) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while True:
        current = client.get(f"/v1/jobs/{job['id']}").json()
        if current["status"] in ("succeeded", "failed", "cancelled") or time.monotonic() > deadline:
            return current
        time.sleep(0.05)


def run_job(client: TestClient, path: str, body: dict[str, Any]) -> dict[str, Any]:
    response = client.post(path, json=body)
    assert response.status_code == 202, response.text
    done = wait_job(client, response.json())
    assert done["status"] == "succeeded", done
    return done["result"]


def all_points(client: TestClient, map_id: int) -> dict[str, dict[str, Any]]:
    body = client.get(f"{BASE}/maps/{map_id}/points?limit=1000").json()
    assert body["count"] == len(body["data"])
    return {p["id"]: p for p in body["data"]}


@pytest.fixture(scope="module")
def client(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TestClient]:
    home: Path = tmp_path_factory.mktemp("maps") / "home"
    with TestClient(create_app(get_settings(home=home, model="fake"))) as test_client:
        docs = topic_docs()
        assert test_client.post("/v1/collections", json={"name": "topics"}).status_code == 201
        response = test_client.put(f"{BASE}/documents", json={"documents": docs})
        assert response.status_code in (200, 201), response.text
        yield test_client


@pytest.fixture(scope="module")
def fitted(client: TestClient) -> dict[str, Any]:
    """A clustering, then a map (which records it); the points before anything else changes."""
    clustering_id = run_job(client, f"{BASE}/clusterings", {"algorithm": "kmeans", "k": 3})["clustering_id"]
    result = run_job(client, f"{BASE}/maps", {"n_neighbors": 5, "min_dist": 0.1, "sample": 50000})
    map_id = result["map_id"]
    return {"map_id": map_id, "clustering_id": clustering_id, "points": all_points(client, map_id)}


def test_map_is_listed_with_quality_and_clustering(client: TestClient, fitted: dict[str, Any]) -> None:
    listing = client.get(f"{BASE}/maps").json()
    assert listing["count"] >= 1
    entry = next(m for m in listing["data"] if m["id"] == fitted["map_id"])
    assert {"id", "created_at", "points", "clustering_id", "quality"} <= set(entry)
    assert entry["clustering_id"] == fitted["clustering_id"]
    assert 0.5 < entry["quality"]["trustworthiness"] <= 1.0
    assert 0.0 <= entry["quality"]["knn_preservation"] <= 1.0
    one = client.get(f"{BASE}/maps/{fitted['map_id']}").json()
    assert one["id"] == fitted["map_id"] and one["points"] >= N


def test_points_carry_clusters_and_titles_and_page(client: TestClient, fitted: dict[str, Any]) -> None:
    points = fitted["points"]
    assert len(points) == N
    sample = next(iter(points.values()))
    assert set(sample) == {"id", "x", "y", "cluster", "title"}
    assert {p["cluster"] for p in points.values()} == {0, 1, 2}
    assert {p["title"] for p in points.values()} == {"fruit", "machine", "music"}
    page = client.get(f"{BASE}/maps/{fitted['map_id']}/points?offset=5&limit=4").json()
    assert len(page["data"]) == 4 and page["count"] >= N
    xs = sorted(p["x"] for p in points.values())
    ys = [p["y"] for p in points.values()]
    x0, x1 = xs[0], xs[len(xs) // 2]
    box = client.get(
        f"{BASE}/maps/{fitted['map_id']}/points", params={"bbox": f"{x0},{min(ys)},{x1},{max(ys)}", "limit": 1000}
    ).json()
    assert 0 < box["count"] < N + 10
    assert all(x0 <= p["x"] <= x1 for p in box["data"])


def test_project_texts_ids_vectors(client: TestClient, fitted: dict[str, Any], expect_error: Expect) -> None:
    path = f"{BASE}/maps/{fitted['map_id']}/project"
    texts = client.post(path, json={"texts": ["apple banana cherry", "violin cello"]}).json()
    assert len(texts["points"]) == 2 and set(texts["points"][0]) == {"x", "y"}
    ids = client.post(path, json={"ids": ["A0", "B3"]}).json()["points"]
    for doc_id, point in zip(["A0", "B3"], ids, strict=True):
        stored = fitted["points"][doc_id]
        assert (point["x"], point["y"]) == pytest.approx((stored["x"], stored["y"]), abs=1e-5)
    dim = client.get(BASE).json()["dimension"]
    vectors = client.post(path, json={"vectors": [[0.1] * dim]}).json()["points"]
    assert len(vectors) == 1 and np.isfinite([vectors[0]["x"], vectors[0]["y"]]).all()
    expect_error(client.post(path, json={"vectors": [[0.1] * (dim + 1)]}), 400, "dimension_mismatch")
    expect_error(client.post(path, json={"ids": ["nope"]}), 404, "document_not_found")
    expect_error(client.post(path, json={}), 422, "validation_error")
    expect_error(client.post(f"{BASE}/maps/999/project", json={"texts": ["x"]}), 404, "map_not_found")
    expect_error(client.get(f"{BASE}/maps/999/points"), 404, "map_not_found")
    expect_error(client.get(f"{BASE}/maps/{fitted['map_id']}/points?bbox=1,2"), 400, "invalid_bbox")


def test_new_documents_are_placed_without_moving_old_points(client: TestClient, fitted: dict[str, Any]) -> None:
    new = [{"id": f"A-new-{i}", "title": "fruit", "text": "apple banana cherry grape mango melon"} for i in range(3)]
    assert client.put(f"{BASE}/documents", json={"documents": new}).status_code in (200, 201)
    points = all_points(client, fitted["map_id"])
    assert len(points) == N + 3
    for doc_id, before in fitted["points"].items():
        assert (points[doc_id]["x"], points[doc_id]["y"]) == (before["x"], before["y"])
    # A new fruit document lands nearer the fruit points than the others.
    fruit = np.array([[p["x"], p["y"]] for i, p in fitted["points"].items() if i.startswith("A")])
    other = np.array([[p["x"], p["y"]] for i, p in fitted["points"].items() if not i.startswith("A")])
    placed = np.array([points["A-new-0"]["x"], points["A-new-0"]["y"]])
    assert np.linalg.norm(fruit - placed, axis=1).min() < np.linalg.norm(other - placed, axis=1).min()


def test_reading_points_never_writes_and_the_writer_places(client: TestClient, fitted: dict[str, Any]) -> None:
    """GET points is a read (a read key may call it), so it inserts nothing; a write places new documents."""
    store = client.app.state.store  # type: ignore[attr-defined]
    text = "engine piston gear wheel brake clutch"
    late = [DocumentInput(id=f"B-late-{i}", title="machine", text=text) for i in range(2)]
    store.collection("topics").upsert(late)  # written without the shells' after-write step: not placed yet

    def stored_points() -> int:
        with store.sessions() as s:
            return s.scalar(select(func.count()).select_from(MapPointRow).where(MapPointRow.map_id == fitted["map_id"]))

    before = stored_points()
    keys = client.app.state.keys  # type: ignore[attr-defined]
    read = keys.create("read", "maps read").key
    try:
        response = client.get(
            f"{BASE}/maps/{fitted['map_id']}/points?limit=1000", headers={"Authorization": f"Bearer {read}"}
        )
        assert response.status_code == 200, response.text
        assert not {p["id"] for p in response.json()["data"]} & {"B-late-0", "B-late-1"}
        assert stored_points() == before  # the read changed nothing
    finally:
        keys.revoke(read)
    new = [{"id": "B-late-2", "title": "machine", "text": text}]
    assert client.put(f"{BASE}/documents", json={"documents": new}).status_code in (200, 201)
    assert stored_points() == before + 3  # the writer placed every document the newest map lacked
    assert {"B-late-0", "B-late-1", "B-late-2"} <= set(all_points(client, fitted["map_id"]))


def test_refit_is_aligned_to_the_previous_map(client: TestClient, fitted: dict[str, Any]) -> None:
    previous = all_points(client, fitted["map_id"])
    map_id = run_job(client, f"{BASE}/maps", {"n_neighbors": 5, "refit": True})["map_id"]
    info = client.get(f"{BASE}/maps/{map_id}").json()
    alignment = info["alignment"]
    assert alignment["previous_map_id"] == fitted["map_id"]
    moved = alignment["displacement"]
    assert moved["shared"] == len(previous)
    now = all_points(client, map_id)
    shift = np.array([np.hypot(now[i]["x"] - p["x"], now[i]["y"] - p["y"]) for i, p in previous.items()])
    assert float(np.median(shift)) == pytest.approx(moved["median"], rel=1e-3, abs=1e-4)
    refit_points = fitted.setdefault("refit", {})
    refit_points.update(previous=previous, now=now, spread=moved["spread"])


def test_refit_keeps_each_topic_in_place(fitted: dict[str, Any]) -> None:
    """Each topic stays where it was, and every point lies nearest its own topic's old centre."""
    if "refit" not in fitted:
        pytest.skip("needs test_refit_is_aligned_to_the_previous_map first")
    previous, now, spread = fitted["refit"]["previous"], fitted["refit"]["now"], fitted["refit"]["spread"]
    centres = {t: np.mean([[p["x"], p["y"]] for i, p in previous.items() if i[0] == t], axis=0) for t in "ABC"}
    for t, centre in centres.items():
        moved_centre = np.mean([[p["x"], p["y"]] for i, p in now.items() if i[0] == t], axis=0)
        assert np.linalg.norm(moved_centre - centre) < 0.5 * spread
    for i, p in now.items():
        nearest = min(centres, key=lambda t: float(np.hypot(p["x"] - centres[t][0], p["y"] - centres[t][1])))
        assert nearest == i[0], i


def test_map_of_too_few_documents_and_bad_params(client: TestClient, expect_error: Expect) -> None:
    assert client.post("/v1/collections", json={"name": "tiny"}).status_code == 201
    docs = [{"id": f"t{i}", "text": f"apple {i}"} for i in range(3)]
    client.put("/v1/collections/tiny/documents", json={"documents": docs})
    expect_error(client.post("/v1/collections/tiny/maps", json={}), 400, "invalid_input")
    expect_error(client.post("/v1/collections/tiny/maps", json={"refit": True}), 400, "invalid_input")
    expect_error(client.post(f"{BASE}/maps", json={"n_neighbors": 1}), 422, "validation_error")  # bounded
    expect_error(client.post(f"{BASE}/maps", json={"nneighbors": 5}), 422, "validation_error")
    expect_error(client.get(f"{BASE}/maps/12345"), 404, "map_not_found")
