"""Documents: batch upsert with hash-skip, fetch, list with paging and filters, delete by id or filter."""

from __future__ import annotations

from collections.abc import Callable

from fastapi.testclient import TestClient
from latent_client import LatentClient

from latent.config import Settings
from service.main import create_app

BASE = "/v1/collections/papers/documents"


def test_upsert_counts_and_hash_skip(client: TestClient, api: LatentClient, make_corpus: Callable) -> None:
    api.create_collection("papers")
    docs = make_corpus(6)
    assert client.put(BASE, json={"documents": docs}).json() == {
        "upserted": 6,
        "unchanged": 0,
        "metadata_updated": 0,
    }
    assert client.put(BASE, json={"documents": docs}).json() == {
        "upserted": 0,
        "unchanged": 6,
        "metadata_updated": 0,
    }
    docs[0]["text"] = "entirely new text"
    docs[1]["metadata"] = {"topic": "changed"}
    assert client.put(BASE, json={"documents": docs}).json() == {
        "upserted": 1,
        "unchanged": 4,
        "metadata_updated": 1,
    }
    assert api.get_document("papers", docs[1]["id"]).metadata == {"topic": "changed"}


def test_get_document(client: TestClient, papers: str) -> None:
    doc = client.get(f"{BASE}/doc-1").json()
    assert doc["id"] == "doc-1" and doc["title"] == "physics paper 1"
    assert doc["metadata"] == {"topic": "physics", "year": 2001, "tags": ["physics", "odd"]}
    assert doc["chunk_count"] == 1 and doc["token_count"] > 0 and len(doc["content_hash"]) == 64


def test_ids_with_slashes_and_spaces(api: LatentClient) -> None:
    api.create_collection("papers")
    api.upsert("papers", [{"id": "dir/file name.txt", "text": "slash id"}])
    assert api.get_document("papers", "dir/file name.txt").text == "slash id"
    assert api.neighbors("papers", "dir/file name.txt").hits == []
    assert api.delete_document("papers", "dir/file name.txt").deleted == 1


def test_list_pages_and_filters(client: TestClient, papers: str) -> None:
    page = client.get(BASE, params={"offset": 5, "limit": 10}).json()
    assert page["count"] == 24 and len(page["data"]) == 10
    everything = client.get(BASE, params={"limit": 1000}).json()["data"]
    assert [d["id"] for d in page["data"]] == [d["id"] for d in everything[5:15]]
    bio = client.get(BASE, params={"filter": '{"topic": "biology", "year": {"$gte": 2010}}'}).json()
    assert bio["count"] == 3 and {d["metadata"]["topic"] for d in bio["data"]} == {"biology"}


def test_list_bad_paging(client: TestClient, papers: str, expect_error: Callable[..., dict]) -> None:
    expect_error(client.get(BASE, params={"limit": 0}), 422, "validation_error")
    expect_error(client.get(BASE, params={"offset": -1}), 422, "validation_error")
    expect_error(client.get(BASE, params={"filter": "[1]"}), 400, "invalid_filter")


def test_delete_one(client: TestClient, papers: str, expect_error: Callable[..., dict]) -> None:
    assert client.delete(f"{BASE}/doc-0").json() == {"deleted": 1}
    expect_error(client.get(f"{BASE}/doc-0"), 404, "document_not_found")
    error = expect_error(client.delete(f"{BASE}/doc-0"), 404, "document_not_found")
    assert error["details"]["ids"] == ["doc-0"] and "doc-0" in error["message"]
    assert client.get("/v1/collections/papers").json()["documents"] == 23


def test_delete_many_by_ids_and_filter(client: TestClient, papers: str) -> None:
    response = client.post(f"{BASE}/delete", json={"ids": ["doc-0", "doc-1", "missing"]})
    assert response.json() == {"deleted": 2}
    response = client.post(f"{BASE}/delete", json={"filter": {"topic": {"$in": ["physics", "chemistry"]}}})
    assert response.json() == {"deleted": 11}
    remaining = client.get(BASE, params={"limit": 100}).json()
    assert remaining["count"] == 11
    assert {d["metadata"]["topic"] for d in remaining["data"]} == {"biology", "medicine"}
    # deleted documents are gone from search too
    hits = client.post("/v1/collections/papers/search", json={"query": "quantum particle", "k": 24}).json()["hits"]
    assert all(int(h["id"].split("-")[1]) % 4 in (0, 3) for h in hits) and len(hits) == 11


def test_delete_needs_ids_or_filter(client: TestClient, papers: str, expect_error: Callable[..., dict]) -> None:
    expect_error(client.post(f"{BASE}/delete", json={}), 422, "validation_error")
    expect_error(client.post(f"{BASE}/delete", json={"ids": ["a"], "filter": {"a": 1}}), 422, "validation_error")
    expect_error(client.post(f"{BASE}/delete", json={"filter": {}}), 400, "invalid_filter")


def test_invalid_documents(client: TestClient, papers: str, expect_error: Callable[..., dict]) -> None:
    twice = {"documents": [{"id": "x", "text": "a"}, {"id": "x", "text": "b"}]}
    expect_error(client.put(BASE, json=twice), 400, "duplicate_ids")
    expect_error(client.put(BASE, json={"documents": [{"id": "x", "text": " "}]}), 400, "invalid_document")
    expect_error(client.put(BASE, json={"documents": [{"id": "", "text": "a"}]}), 400, "invalid_document")
    expect_error(client.put(BASE, json={"documents": [{"text": "no id"}]}), 422, "validation_error")
    expect_error(client.put(BASE, json={"documents": [{"id": "x", "text": "a", "meta": {}}]}), 422, "validation_error")


def test_batch_limit(make_settings: Callable[..., Settings], expect_error: Callable[..., dict]) -> None:
    with TestClient(create_app(make_settings(max_batch_documents=3))) as client:
        client.post("/v1/collections", json={"name": "papers"})
        docs = [{"id": str(i), "text": f"text {i}"} for i in range(4)]
        error = expect_error(client.put(BASE, json={"documents": docs}), 413, "batch_too_large")
        assert error["details"] == {"count": 4, "max": 3}
        assert client.put(BASE, json={"documents": docs[:3]}).json()["upserted"] == 3


def test_upsert_into_missing_collection(client: TestClient, expect_error: Callable[..., dict]) -> None:
    response = client.put("/v1/collections/ghost/documents", json={"documents": [{"id": "a", "text": "b"}]})
    assert expect_error(response, 404, "collection_not_found")["details"] == {"collection": "ghost"}
