"""Health, collections, aliases, documents and API keys through the sync client against the real app."""

from __future__ import annotations

from datetime import timedelta

import pytest
from fastapi.testclient import TestClient
from helpers.topics import PER_TOPIC, topic_docs
from latent_client import LatentClient, LatentHTTPError, models


def test_health_ready_and_metrics(api: LatentClient) -> None:
    assert api.health() == {"status": "ok"}
    ready = api.ready()
    assert ready["status"] == "ready" and ready["dimension"] > 0
    assert "latent_documents" in api.metrics()


def test_collections_create_list_get_delete(api: LatentClient) -> None:
    created = api.create_collection("papers", index="flat")
    assert isinstance(created, models.Collection)
    assert (created.name, created.documents, created.index) == ("papers", 0, "flat")
    assert created.created_at.utcoffset() == timedelta(0)
    listed = api.list_collections()
    assert listed.count == 1 and [c.name for c in listed.data] == ["papers"]
    assert api.get_collection("papers").dimension == created.dimension
    assert api.delete_collection("papers") is None
    assert api.list_collections().count == 0


def test_documents_upsert_get_list_filter_delete(api: LatentClient, topics: str) -> None:
    again = api.upsert(topics, topic_docs())
    assert (again.upserted, again.unchanged) == (0, 3 * PER_TOPIC)
    changed = models.Document(id="A0", text="apple pear", title="fruit", metadata={"topic": "A", "i": 0})
    assert api.upsert(topics, [changed]).upserted == 1
    doc = api.get_document(topics, "A0")
    assert isinstance(doc, models.StoredDocument) and doc.text == "apple pear" and doc.chunk_count >= 1
    page = api.list_documents(topics, offset=0, limit=5, filter={"topic": "B"})
    assert page.count == PER_TOPIC and len(page.data) == 5
    assert {d.metadata["topic"] for d in page.data} == {"B"}
    assert api.delete_document(topics, "A0").deleted == 1
    assert api.delete_documents(topics, ids=["A1", "A2", "ghost"]).deleted == 2
    assert api.delete_documents(topics, filter={"topic": "C"}).deleted == PER_TOPIC
    assert api.get_collection(topics).documents == PER_TOPIC + PER_TOPIC - 3


def test_ids_with_slashes_and_spaces_round_trip(api: LatentClient) -> None:
    api.create_collection("files")
    api.upsert("files", [{"id": "dir/a b?.txt", "text": "slash id"}])
    assert api.get_document("files", "dir/a b?.txt").id == "dir/a b?.txt"
    assert api.delete_document("files", "dir/a b?.txt").deleted == 1


def test_aliases_set_switch_get_list_delete(api: LatentClient) -> None:
    api.create_collection("v1")
    api.create_collection("v2")
    first = api.set_alias("live", "v1")
    assert (first.name, first.collection, first.previous) == ("live", "v1", None)
    assert api.set_alias("live", "v2").previous == "v1"
    assert api.get_alias("live").collection == "v2"
    assert [a.name for a in api.list_aliases().data] == ["live"]
    assert api.delete_alias("live") is None
    assert api.list_aliases().count == 0


def test_api_key_is_sent_and_scopes_are_enforced(http: TestClient, api: LatentClient) -> None:
    api.create_collection("papers")
    keys = http.app.state.keys  # type: ignore[attr-defined]  (as `latent keys create` does)
    read = keys.create("read", "client test").key
    reader = LatentClient(http=http, api_key=read)
    assert reader.list_collections().count == 1
    with pytest.raises(LatentHTTPError) as missing:
        api.list_collections()
    assert (missing.value.status, missing.value.code) == (401, "missing_api_key")
    with pytest.raises(LatentHTTPError) as forbidden:
        reader.create_collection("nope")
    assert forbidden.value.status == 403
