"""Jobs, clusterings, maps and the VAE through the sync client: one app and one run of each per module."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient
from helpers.topics import PER_TOPIC, TOPICS, topic, topic_docs
from latent_client import LatentClient, LatentHTTPError, models

from latent.config import get_settings
from service.main import create_app

N = 3 * PER_TOPIC
VAE = {"latent_dim": 4, "hidden_dim": 32, "epochs": 20, "batch_size": 8, "prior": "gaussian", "random_state": 0}


@pytest.fixture(scope="module")
def api(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LatentClient]:
    home = tmp_path_factory.mktemp("client-analysis") / "home"
    with TestClient(create_app(get_settings(home=home, model="fake"))) as http:
        client = LatentClient(http=http)
        client.create_collection("topics")
        client.upsert("topics", topic_docs())
        yield client


@pytest.fixture(scope="module")
def runs(api: LatentClient) -> dict[str, Any]:
    """A k-means clustering, a map and a VAE, each started as a job and waited for."""
    clustering = api.wait_job(api.create_clustering("topics", "kmeans", k=3, random_state=0), timeout=300)
    map_job = api.wait_job(api.create_map("topics", n_neighbors=5, min_dist=0.1), timeout=300)
    vae_job = api.wait_job(api.train_vae("topics", **VAE), timeout=300)
    return {
        "clustering_id": clustering.result["clustering_id"],  # type: ignore[index]
        "map_id": map_job.result["map_id"],  # type: ignore[index]
        "model_id": vae_job.result["model_id"],  # type: ignore[index]
        "jobs": [clustering, map_job, vae_job],
    }


def test_jobs_are_listed_read_and_not_cancelled_once_ended(api: LatentClient, runs: dict[str, Any]) -> None:
    done = runs["jobs"]
    assert [j.kind for j in done] == ["clustering", "map", "vae"]
    assert all(isinstance(j, models.Job) and j.status == "succeeded" and j.progress == 1.0 for j in done)
    listed = api.list_jobs(limit=10)
    assert {j.id for j in done} <= {j.id for j in listed.data}
    assert api.get_job(done[0].id).finished_at is not None
    with pytest.raises(LatentHTTPError) as ended:
        api.cancel_job(done[0].id)
    assert ended.value.status == 409


def test_clusterings_recover_the_topics(api: LatentClient, runs: dict[str, Any]) -> None:
    clustering = api.get_clustering("topics", runs["clustering_id"])
    assert clustering.algorithm == "kmeans" and sorted(c.size for c in clustering.clusters) == [PER_TOPIC] * 3
    assert [c.id for c in api.list_clusterings("topics").data] == [runs["clustering_id"]]
    first = clustering.clusters[0]
    members = api.cluster_documents("topics", runs["clustering_id"], first.id, limit=100, with_text=True)
    assert members.count == PER_TOPIC and len({topic(d.id) for d in members.data}) == 1
    assert all(d.text for d in members.data)


def test_maps_points_bbox_and_projection(api: LatentClient, runs: dict[str, Any]) -> None:
    map_id = runs["map_id"]
    fitted = api.get_map("topics", map_id)
    assert fitted.points == N and fitted.created_at.utcoffset() is not None
    assert [m.id for m in api.list_maps("topics").data] == [map_id]
    points = api.map_points("topics", map_id, limit=1000)
    assert points.count == N and all(p.cluster is not None for p in points.data)
    xs, ys = sorted(p.x for p in points.data), sorted(p.y for p in points.data)
    inside = api.map_points("topics", map_id, bbox=(xs[0], ys[0], xs[N // 2], ys[-1]))
    assert 0 < inside.count < N
    by_text = api.project("topics", map_id, texts=[TOPICS["A"]])
    by_ids = api.project("topics", map_id, ids=["A0", "B0"])
    assert len(by_text.points) == 1 and len(by_ids.points) == 2
    vector = api.embed([TOPICS["C"]]).vectors
    assert len(api.project("topics", map_id, vectors=vector).points) == 1


def test_vae_operations(api: LatentClient, runs: dict[str, Any]) -> None:
    model_id = runs["model_id"]
    assert [m.id for m in api.list_vaes("topics").data] == [model_id]
    encoded = api.vae_encode("topics", ids=["A0", "B0"], model=model_id)
    assert len(encoded.mu) == 2 and len(encoded.mu[0]) == VAE["latent_dim"]
    decoded = api.vae_decode("topics", encoded.mu)
    assert len(decoded.vectors) == 2
    line = api.vae_interpolate("topics", "A0", models.Point(text=TOPICS["B"]), steps=3, k=2)
    assert [round(s.t, 3) for s in line.steps] == [0.0, 0.5, 1.0] and len(line.steps[0].neighbors) == 2
    samples = api.vae_sample("topics", 3, seed=1, anchor={"id": "C0"}, with_vector=True)
    assert len(samples.samples) == 3 and samples.samples[0].vector is not None
    again = api.vae_sample("topics", 3, seed=1, anchor={"id": "C0"}, with_vector=True)
    assert again.samples[0].vector == samples.samples[0].vector
    point = api.vae_arithmetic("topics", [{"id": "A0"}, models.Term(sign=-1, id="B0", weight=0.5)], k=3)
    assert isinstance(point, models.Grounded) and len(point.neighbors) == 3
    path = api.vae_bridge("topics", "A0", "C0", k=4)
    steps = [s.t for s in path.path]
    assert path.path and steps == sorted(steps)
