"""`latent create-collection`, `info`, `documents …`, `search-batch`, `embed`, `tokenize`, `neighbors`."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from helpers.cli import CliResult, invoke
from helpers.topics import PER_TOPIC, topic_docs

from latent.config import get_settings
from latent.records import DocumentInput
from latent.store.store import Store

Latent = Callable[..., CliResult]


@pytest.fixture
def latent(tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> Latent:
    home = tmp_path / "home"
    with Store(get_settings(home=home, model="fake")) as store:
        store.create_collection("t").upsert(
            [DocumentInput(id=d["id"], text=d["text"], title=d["title"], metadata=d["metadata"]) for d in topic_docs()]
        )
    monkeypatch.setenv("LATENT_HOME", str(home))
    monkeypatch.setenv("LATENT_MODEL", "fake")
    return lambda *args: invoke(capsys, monkeypatch, *args)


def test_create_collection_then_info(latent: Latent) -> None:
    made = latent("create-collection", "own", "--dimension", "8", "--metric", "dot", "--json")
    assert made.code == 0, made.err
    assert made.json()["dimension"] == 8 and made.json()["metric"] == "dot" and made.json()["documents"] == 0
    info = latent("info", "-c", "t", "--json").json()
    assert info["name"] == "t" and info["documents"] == 3 * PER_TOPIC and info["model"] == "fake"
    taken = latent("create-collection", "t")
    assert taken.code == 1 and "t" in taken.err
    assert latent("info", "-c", "nope").code == 1


def test_documents_list_get_and_delete_by_filter(latent: Latent) -> None:
    page = latent("documents", "list", "-c", "t", "--filter", '{"topic": "B"}', "--limit", "3", "--json").json()
    assert page["count"] == PER_TOPIC and len(page["data"]) == 3 and all(d["id"][0] == "B" for d in page["data"])
    doc = latent("documents", "get", "A3", "-c", "t", "--json").json()
    assert doc["id"] == "A3" and doc["metadata"] == {"topic": "A", "i": 3} and doc["text"]
    assert latent("documents", "get", "Z9", "-c", "t").code == 1
    deleted = latent("documents", "delete", "-c", "t", "--filter", '{"topic": "C"}', "--json")
    assert deleted.json() == {"deleted": PER_TOPIC}
    assert latent("info", "-c", "t", "--json").json()["documents"] == 2 * PER_TOPIC
    assert latent("documents", "delete", "-c", "t", "--filter", "{").code == 2


def test_search_batch_embed_tokenize_and_neighbors(latent: Latent) -> None:
    batch = latent("search-batch", "apple banana", "piano violin", "-c", "t", "-k", "3", "--json").json()
    assert [r["query"] for r in batch["results"]] == ["apple banana", "piano violin"]
    assert [h["id"][0] for h in batch["results"][0]["hits"]] == ["A"] * 3
    assert [h["id"][0] for h in batch["results"][1]["hits"]] == ["C"] * 3
    vectors = latent("embed", "apple", "piano", "--json").json()
    assert vectors["model"] == "fake" and len(vectors["vectors"]) == 2
    assert len(vectors["vectors"][0]) == vectors["dimension"]
    assert latent("embed", "apple", "-c", "t", "--json").json()["vectors"][0] == vectors["vectors"][0]
    tokens = latent("tokenize", "apple banana cherry", "-c", "t", "--json").json()
    assert tokens["results"][0]["count"] >= 3 and tokens["results"][0]["chunked"] is False
    near = latent("neighbors", "A0", "B0", "Z9", "-c", "t", "-k", "2", "--json")
    assert near.code == 0, near.err
    body = near.json()
    assert body["missing"] == ["Z9"] and [r["id"] for r in body["results"]] == ["A0", "B0"]
    assert all(h["id"][0] == r["id"][0] and h["id"] != r["id"] for r in body["results"] for h in r["hits"])
    assert latent("neighbors", "Z9", "-c", "t").code == 1
    assert latent("embed", " ", "--json").code == 2
