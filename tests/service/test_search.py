"""Search: dense, sparse and hybrid; pre-filters; flags; paging; vectors; batch; neighbours."""

from __future__ import annotations

import json
from collections.abc import Callable

import numpy as np
import pytest
from fastapi.testclient import TestClient
from latent_client import LatentClient

from service.main import create_app

SEARCH = "/v1/collections/papers/search"


@pytest.mark.parametrize("mode", ["dense", "sparse", "hybrid"])
def test_modes_find_the_topic(client: TestClient, papers: str, mode: str) -> None:
    response = client.post(SEARCH, json={"query": "quantum particle energy", "k": 5, "mode": mode})
    assert response.status_code == 200
    body = response.json()
    assert body["took_ms"] >= 0
    hits = body["hits"]
    assert len(hits) == 5 and [h["rank"] for h in hits] == [1, 2, 3, 4, 5]
    assert hits[0]["id"] in {f"doc-{i}" for i in range(1, 24, 4)}  # a physics paper comes first
    assert all(set(h) == {"id", "score", "rank", "title", "chunk"} for h in hits)
    scores = [h["score"] for h in hits]
    assert scores == sorted(scores, reverse=True)


def test_hit_carries_chunk_span(client: TestClient, papers: str) -> None:
    hit = client.post(SEARCH, json={"query": "cell protein gene", "k": 1}).json()["hits"][0]
    assert hit["chunk"]["ordinal"] == 0 and hit["chunk"]["start"] == 0
    doc = client.get(f"/v1/collections/papers/documents/{hit['id']}").json()
    assert hit["chunk"]["end"] == len(doc["text"]) and hit["title"] == doc["title"]


def test_flags_add_text_metadata_vector(client: TestClient, papers: str) -> None:
    body = {"query": "clinical trial", "k": 2, "with_text": True, "with_metadata": True, "with_vector": True}
    hits = client.post(SEARCH, json=body).json()["hits"]
    assert all(set(h) == {"id", "score", "rank", "title", "chunk", "text", "metadata", "vector"} for h in hits)
    assert hits[0]["metadata"]["topic"] == "medicine" and "therapy" in hits[0]["text"]
    assert len(hits[0]["vector"]) == 64 and abs(np.linalg.norm(hits[0]["vector"]) - 1) < 1e-4


def test_offset_pages_through_ranking(client: TestClient, papers: str) -> None:
    full = client.post(SEARCH, json={"query": "molecule reaction", "k": 10}).json()["hits"]
    page = client.post(SEARCH, json={"query": "molecule reaction", "k": 4, "offset": 3}).json()["hits"]
    assert [h["id"] for h in page] == [h["id"] for h in full[3:7]]
    assert [h["rank"] for h in page] == [4, 5, 6, 7]


def test_filters(client: TestClient, papers: str) -> None:
    cases = {
        '{"topic": "biology"}': lambda m: m["topic"] == "biology",
        '{"year": {"$gte": 2020}}': lambda m: m["year"] >= 2020,
        '{"tags": {"$contains": "odd"}}': lambda m: "odd" in m["tags"],
        '{"$or": [{"topic": "physics"}, {"year": {"$lt": 2002}}]}': lambda m: (
            m["topic"] == "physics" or m["year"] < 2002
        ),
        '{"$not": {"topic": {"$in": ["biology", "physics"]}}}': lambda m: m["topic"] not in ("biology", "physics"),
    }
    for spec, keep in cases.items():
        body = {"query": "cell protein quantum", "k": 24, "filter": json.loads(spec), "with_metadata": True}
        hits = client.post(SEARCH, json=body).json()["hits"]
        expected = sum(keep(d["metadata"]) for d in client.get("/v1/collections/papers/documents").json()["data"])
        assert len(hits) == expected and all(keep(h["metadata"]) for h in hits), spec


def test_prefilter_keeps_k_hits_when_filter_keeps_one_percent(api: LatentClient, client: TestClient) -> None:
    """A post-filter over the top candidates would find none of the rare documents; a pre-filter finds k."""
    api.create_collection("papers")
    docs = [
        {"id": f"c{i}", "text": f"apple banana cherry orchard fruit {i}", "metadata": {"rare": False}}
        for i in range(990)
    ] + [{"id": f"r{i}", "text": f"zebra yak walrus {i}", "metadata": {"rare": True}} for i in range(10)]
    api.upsert("papers", docs)
    for mode in ("dense", "hybrid"):
        body = {
            "query": "apple banana cherry",
            "k": 10,
            "filter": {"rare": True},
            "mode": mode,
            "with_metadata": True,
        }
        hits = client.post(SEARCH, json=body).json()["hits"]
        assert len(hits) == 10, mode
        assert {h["id"] for h in hits} == {f"r{i}" for i in range(10)}
    unfiltered = client.post(SEARCH, json={"query": "apple banana cherry", "k": 100}).json()["hits"]
    assert not any(h["id"].startswith("r") for h in unfiltered)  # what a post-filter would have had to work with


def test_vector_query(client: TestClient, papers: str) -> None:
    vector = client.post("/v1/embed", json={"texts": ["patient trial dose"]}).json()["vectors"][0]
    by_vector = client.post(SEARCH, json={"vector": vector, "k": 3}).json()["hits"]
    by_text = client.post(SEARCH, json={"query": "patient trial dose", "k": 3}).json()["hits"]
    assert [h["id"] for h in by_vector] == [h["id"] for h in by_text]


def test_vector_errors(client: TestClient, papers: str, expect_error: Callable[..., dict]) -> None:
    expect_error(client.post(SEARCH, json={"vector": [0.1, 0.2]}), 400, "dimension_mismatch")
    expect_error(client.post(SEARCH, json={"vector": [0.1] * 64, "mode": "sparse"}), 400, "invalid_query")
    expect_error(client.post(SEARCH, json={"query": "a", "vector": [0.1] * 64}), 400, "invalid_query")
    expect_error(client.post(SEARCH, json={}), 400, "invalid_query")


def test_hybrid_weights(client: TestClient, papers: str) -> None:
    base = {"query": "gene enzyme", "k": 5, "mode": "hybrid"}
    sparse_only = client.post(SEARCH, json={**base, "weights": {"dense": 0, "sparse": 1}}).json()["hits"]
    sparse = client.post(SEARCH, json={**base, "mode": "sparse"}).json()["hits"]
    assert [h["id"] for h in sparse_only[: len(sparse)]] == [h["id"] for h in sparse][:5]
    assert client.post(SEARCH, json={**base, "rrf_k": 10}).status_code == 200


def test_batch_search(client: TestClient, papers: str, expect_error: Callable[..., dict]) -> None:
    queries = ["quantum particle", "patient therapy", "acid catalyst"]
    body = client.post(f"{SEARCH}/batch", json={"queries": queries, "k": 3, "with_text": True}).json()
    assert body["took_ms"] >= 0 and len(body["results"]) == 3
    for query, result in zip(queries, body["results"], strict=True):
        single = client.post(SEARCH, json={"query": query, "k": 3}).json()["hits"]
        assert [h["id"] for h in result["hits"]] == [h["id"] for h in single]
        assert all("text" in h for h in result["hits"])
    expect_error(client.post(f"{SEARCH}/batch", json={"queries": []}), 400, "empty_batch")
    expect_error(client.post(f"{SEARCH}/batch", json={"queries": ["ok", " "]}), 400, "empty_query")


def test_batch_limit(make_settings: Callable, expect_error: Callable[..., dict]) -> None:
    with TestClient(create_app(make_settings(max_batch_texts=2))) as client:
        client.post("/v1/collections", json={"name": "papers"})
        response = client.post(f"{SEARCH}/batch", json={"queries": ["a", "b", "c"]})
        assert expect_error(response, 413, "batch_too_large")["details"] == {"count": 3, "max": 2}


def test_neighbors(client: TestClient, papers: str, expect_error: Callable[..., dict]) -> None:
    hits = client.get("/v1/collections/papers/neighbors/doc-0", params={"k": 5}).json()["hits"]
    assert len(hits) == 5 and "doc-0" not in {h["id"] for h in hits}
    assert {h["id"] for h in hits[:3]} <= {f"doc-{i}" for i in range(0, 24, 4)}  # biology near biology
    filtered = client.get(
        "/v1/collections/papers/neighbors/doc-0",
        params={"k": 3, "filter": '{"topic": "physics"}', "with_metadata": True},
    ).json()["hits"]
    assert len(filtered) == 3 and {h["metadata"]["topic"] for h in filtered} == {"physics"}
    error = expect_error(client.get("/v1/collections/papers/neighbors/ghost"), 404, "document_not_found")
    assert "ghost" in error["message"] and error["details"]["ids"] == ["ghost"]
    expect_error(client.get("/v1/collections/papers/neighbors/doc-0", params={"k": 0}), 400, "invalid_k")


def test_typed_client_search(api: LatentClient, papers: str) -> None:
    result = api.search(papers, "quantum particle", k=3, mode="hybrid", with_metadata=True)
    assert len(result.hits) == 3 and result.hits[0].metadata is not None
    batch = api.search_batch(papers, ["quantum", "patient"], k=2)
    assert [len(r.hits) for r in batch.results] == [2, 2]
    assert len(api.neighbors(papers, "doc-5", k=4).hits) == 4


@pytest.mark.slow
def test_real_model_ranks_by_meaning(tmp_path) -> None:  # noqa: ANN001
    """With all-MiniLM-L6-v2, a paraphrase with no shared words still finds the right document."""
    from latent.config import get_settings

    with TestClient(create_app(get_settings(home=tmp_path))) as client:
        client.post("/v1/collections", json={"name": "papers"})
        docs = [
            {"id": "heart", "text": "Cardiac arrest is treated with defibrillation and CPR."},
            {"id": "stars", "text": "Galaxies contain billions of stars bound by gravity."},
            {"id": "bread", "text": "Knead the dough and let it rise before baking."},
        ]
        client.put("/v1/collections/papers/documents", json={"documents": docs})
        hits = client.post(SEARCH, json={"query": "what to do when someone's heart stops", "k": 3}).json()["hits"]
        assert hits[0]["id"] == "heart"
        assert client.get("/readyz").json()["dimension"] == 384


def test_concurrent_searches_during_writes(client: TestClient, papers: str) -> None:
    """Searches running in the thread pool while documents are rewritten and deleted: never an error."""
    from concurrent.futures import ThreadPoolExecutor

    def write(round_: int) -> int:
        docs = [{"id": f"doc-{i}", "text": f"rewritten {round_} quantum text {i}"} for i in range(0, 24, 2)]
        client.put("/v1/collections/papers/documents", json={"documents": docs})
        return client.post("/v1/collections/papers/documents/delete", json={"ids": [f"new-{round_}"]}).status_code

    def read(i: int) -> int:
        response = client.post(SEARCH, json={"query": f"quantum text {i}", "k": 5, "mode": "hybrid"})
        hits = response.json()["hits"]
        assert len(hits) == 5 and len({h["id"] for h in hits}) == 5
        return response.status_code

    with ThreadPoolExecutor(8) as pool:
        writes = [pool.submit(write, r) for r in range(5)]
        reads = [pool.submit(read, i) for i in range(60)]
        assert {f.result() for f in writes + reads} == {200}
