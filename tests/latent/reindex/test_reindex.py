"""Reindex in the core: the build pages, stops on request and resumes; the gate measures both sides."""

from __future__ import annotations

from pathlib import Path

import pytest
from helpers.corpora import topical
from helpers.gate import write_topic_beir
from helpers.topics import topic_docs

from latent.aliases import get_alias, set_alias
from latent.errors import Conflict, InvalidInput
from latent.jobs import JobCancelled
from latent.records import DocumentInput
from latent.reindex import build, gate, load_gate, reindex
from latent.store.store import Store


def test_build_stops_on_request_resumes_and_follows_the_source(store: Store) -> None:
    source = store.create_collection("src")
    source.upsert(topical(40))
    pages_done: list[float] = []

    def stop_after_two_pages() -> bool:
        return len(pages_done) >= 2

    with pytest.raises(JobCancelled):
        build(store, source, "dst", batch_docs=7, progress=lambda f, _m: pages_done.append(f),
              should_stop=stop_after_two_pages)  # fmt: skip
    assert store.collection("dst").count() == 14
    resumed = build(store, source, "dst", batch_docs=7)
    assert not resumed.created and (resumed.embedded, resumed.unchanged) == (26, 14)
    assert pages_done == [7 / 40, 14 / 40]

    source.delete(["doc-0", "doc-1"])
    source.upsert([DocumentInput(id="doc-2", text="A study of something else entirely.")])
    again = build(store, source, "dst", batch_docs=100)
    assert (again.documents, again.embedded, again.removed) == (38, 1, 2)
    dst = store.collection("dst")
    assert dst.count() == 38 and dst.get("doc-2").text == "A study of something else entirely."
    assert dst.get("doc-5").metadata == source.get("doc-5").metadata  # metadata comes along


def test_build_refuses_bad_targets(store: Store) -> None:
    source = store.create_collection("src")
    with pytest.raises(InvalidInput):
        build(store, source, "src")
    set_alias(store, "live", "src")
    with pytest.raises(Conflict):
        build(store, source, "live")
    store.create_collection("other", model="fake:8")
    with pytest.raises(Conflict) as mismatch:
        build(store, source, "other", model="fake:16")
    assert mismatch.value.code == "model_mismatch"


def _topics(store: Store, name: str, model: str | None = None) -> None:
    docs = [DocumentInput(id=d["id"], title=d["title"], text=d["text"]) for d in topic_docs()]
    store.create_collection(name, model=model).upsert(docs)


def test_gate_measures_a_worse_encoder(store: Store, tmp_path: Path) -> None:
    """Topic words retrieve their topic with the 64-d fake encoder; in 2 dimensions they mostly do not."""
    beir = load_gate(write_topic_beir(tmp_path / "beir"))
    _topics(store, "good")
    _topics(store, "bad", model="fake:2")
    result = gate(store.collection("good"), store.collection("bad"), beir, 0.05)
    assert result.current > 0.9 and result.candidate < result.current - 0.05
    assert not result.passed and "dropped" in result.reason
    same = gate(store.collection("good"), store.collection("good"), beir, 0.0)
    assert same.passed and same.delta == 0.0


def test_reindex_reports_and_switches(store: Store, tmp_path: Path) -> None:
    folder = write_topic_beir(tmp_path / "beir")
    _topics(store, "v1")
    set_alias(store, "live", "v1")
    report = reindex(store, "live", "v2", index="numpy", gate_folder=folder, alias="live")
    assert report.switched and report.previous == "v1" and get_alias(store, "live").collection == "v2"
    data = report.as_dict()
    assert data["gate"]["delta"] == pytest.approx(report.gate.candidate - report.gate.current)
    with pytest.raises(InvalidInput):
        reindex(store, "live", "v3", mode="fuzzy")
    with pytest.raises(InvalidInput):
        reindex(store, "live", "v3", margin=-1)
