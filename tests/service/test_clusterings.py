"""Clustering through HTTP on three topics with disjoint vocabularies: runs are jobs, clusters recover topics."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import pytest
from fastapi.testclient import TestClient
from helpers.topics import PER_TOPIC, topic, topic_docs
from latent_client import LatentClient
from sklearn.metrics import adjusted_rand_score

Expect = Callable[[Any, int, str], dict[str, Any]]
BASE = "/v1/collections/topics"


def wait_job(client: TestClient, job: dict[str, Any], timeout: float = 120.0) -> dict[str, Any]:
    """Poll /v1/jobs/{id} until the job ends."""
    deadline = time.monotonic() + timeout
    while True:
        current = client.get(f"/v1/jobs/{job['id']}").json()
        if current["status"] in ("succeeded", "failed", "cancelled") or time.monotonic() > deadline:
            return current
        time.sleep(0.05)


@pytest.fixture
def topics(api: LatentClient) -> str:
    api.create_collection("topics")
    api.upsert("topics", topic_docs())
    return "topics"


def cluster(client: TestClient, body: dict[str, Any]) -> int:
    response = client.post(f"{BASE}/clusterings", json=body)
    assert response.status_code == 202, response.text
    job = response.json()
    assert job["kind"] == "clustering" and job["status"] in ("queued", "running", "succeeded")
    done = wait_job(client, job)
    assert done["status"] == "succeeded", done
    assert done["progress"] == 1.0
    return done["result"]["clustering_id"]


def test_kmeans_recovers_topics_with_labels_and_documents(client: TestClient, topics: str) -> None:
    clustering_id = cluster(client, {"algorithm": "kmeans", "k": 3})
    body = client.get(f"{BASE}/clusterings/{clustering_id}").json()
    assert set(body) == {"id", "algorithm", "params", "silhouette", "clusters"}
    assert body["id"] == clustering_id and body["algorithm"] == "kmeans"
    assert body["silhouette"] > 0.2
    assert len(body["clusters"]) == 3
    truth, found = [], []
    for c in body["clusters"]:
        assert set(c) == {"id", "label", "terms", "size", "representatives"}
        assert c["terms"] and c["label"]
        members = client.get(f"{BASE}/clusterings/{clustering_id}/clusters/{c['id']}/documents?limit=100").json()
        assert members["count"] == c["size"] == len(members["data"])
        assert set(c["representatives"]) <= {d["id"] for d in members["data"]}
        for d in members["data"]:
            truth.append(topic(d["id"]))
            found.append(c["id"])
        # A cluster's terms come from its own topic's words.
        docs = {d["id"]: d for d in topic_docs()}
        words = set(docs[members["data"][0]["id"]]["text"].split())
        first = topic(members["data"][0]["id"])
        vocabulary = {w for d in topic_docs() if topic(d["id"]) == first for w in d["text"].split()}
        assert set(c["terms"]) <= vocabulary | words | {"fruit", "machine", "music"}
    assert len(truth) == 3 * PER_TOPIC
    assert adjusted_rand_score(truth, found) >= 0.8
    page = client.get(f"{BASE}/clusterings/{clustering_id}/clusters/0/documents?offset=1&limit=2").json()
    assert len(page["data"]) == 2 and page["count"] == body["clusters"][0]["size"]
    listing = client.get(f"{BASE}/clusterings").json()
    assert listing["count"] == 1 and listing["data"][0]["id"] == clustering_id


def test_hdbscan_runs_and_cluster_filters_search(client: TestClient, topics: str) -> None:
    clustering_id = cluster(client, {"algorithm": "hdbscan", "min_cluster_size": 5})
    body = client.get(f"{BASE}/clusterings/{clustering_id}").json()
    assert body["algorithm"] == "hdbscan" and body["clusters"]
    # The filter and the hit field use the newest clustering: a fresh k-means run.
    kmeans_id = cluster(client, {"algorithm": "kmeans", "k": 3})
    clusters = client.get(f"{BASE}/clusterings/{kmeans_id}").json()["clusters"]
    target = clusters[0]
    hits = client.post(f"{BASE}/search", json={"query": "apple banana", "k": 24}).json()["hits"]
    assert all("cluster" in h for h in hits)
    response = client.post(
        f"{BASE}/search", json={"query": "apple banana", "k": 24, "filter": {"cluster": target["id"]}}
    )
    assert response.status_code == 200, response.text
    filtered = response.json()["hits"]
    assert len(filtered) == target["size"]
    assert {h["cluster"] for h in filtered} == {target["id"]}
    assert len({topic(h["id"]) for h in filtered}) == 1
    others = client.post(
        f"{BASE}/search", json={"query": "apple", "k": 24, "filter": {"cluster": {"$nin": [target["id"]]}}}
    ).json()["hits"]
    assert len(others) == 3 * PER_TOPIC - target["size"]


def test_bad_requests_are_4xx_envelopes(client: TestClient, topics: str, expect_error: Expect) -> None:
    expect_error(client.post(f"{BASE}/clusterings", json={"algorithm": "spectral"}), 400, "invalid_input")
    expect_error(client.post(f"{BASE}/clusterings", json={"algorithm": "kmeans", "k": 1}), 422, "validation_error")
    expect_error(client.post(f"{BASE}/clusterings", json={"algorithm": "kmeans", "k": 25}), 400, "invalid_input")
    expect_error(client.post(f"{BASE}/clusterings", json={"algorithm": "kmeans", "kk": 3}), 422, "validation_error")
    expect_error(client.get(f"{BASE}/clusterings/999"), 404, "clustering_not_found")
    expect_error(client.get(f"{BASE}/clusterings/999/clusters/0/documents"), 404, "clustering_not_found")
    expect_error(client.post("/v1/collections/nope/clusterings", json={"k": 3}), 404, "collection_not_found")
    expect_error(
        client.post(f"{BASE}/search", json={"query": "apple", "filter": {"cluster": "x"}}), 400, "invalid_filter"
    )
