"""`latent alias …` and `latent reindex`: CRUD with --json, aliases in --collection, the gate, Ctrl-C and resume."""

from __future__ import annotations

import json
import signal
import sqlite3
import time
from pathlib import Path

import pytest
from helpers import cli
from helpers.corpora import jsonl_records, write_jsonl
from helpers.gate import write_topic_beir


@pytest.fixture
def latent(tmp_path, capsys, monkeypatch):
    home = tmp_path / "home"

    def run(*args: str | Path) -> cli.CliResult:
        return cli.invoke(capsys, monkeypatch, "--home", home, "--model", "fake", *args)

    return run


@pytest.fixture
def beir(tmp_path: Path) -> Path:
    return write_topic_beir(tmp_path / "topics")


@pytest.fixture
def topics(latent, beir: Path) -> str:
    """Collection topics-v1 built from the BEIR folder's corpus, and the alias 'topics' -> it."""
    assert latent("index", beir / "corpus.jsonl", "-c", "topics-v1", "-q").code == 0
    assert latent("alias", "set", "topics", "topics-v1").code == 0
    return "topics"


def test_alias_set_get_list_delete(latent, topics) -> None:
    assert latent("index", "-c", "other", "-q").code == 0  # the demo corpus
    switched = latent("alias", "set", topics, "other", "--json")
    assert switched.code == 0 and switched.json()["collection"] == "other"
    assert switched.json()["previous"] == "topics-v1"
    assert latent("alias", "get", topics, "--json").json()["collection"] == "other"
    assert "topics -> other" in latent("alias", "get", topics).out
    listing = latent("alias", "list", "--json").json()
    assert listing["count"] == 1 and listing["data"][0]["name"] == topics
    deleted = latent("alias", "delete", topics, "--json")
    assert deleted.code == 0 and deleted.json() == {"deleted": topics, "collection": "other"}
    assert latent("alias", "list", "--json").json() == {"data": [], "count": 0}
    missing = latent("alias", "get", topics)
    assert missing.code == 1 and "does not exist" in missing.err


def test_alias_errors_exit_codes(latent, topics) -> None:
    taken = latent("alias", "set", "topics-v1", "topics-v1")
    assert taken.code == 1 and "is a collection" in taken.err
    assert latent("alias", "set", "bad name", "topics-v1").code == 2
    assert latent("alias", "set", "x", "nothing").code == 1
    refused = latent("delete", "-c", "topics-v1", "--drop")
    assert refused.code == 1 and "alias 'topics'" in refused.err


def test_every_collection_option_accepts_an_alias(latent, topics) -> None:
    hits = latent("search", "apple banana", "-c", topics, "--json").json()["hits"]
    assert hits and all(h["id"].startswith("A") for h in hits[:5])
    assert latent("check", "-c", topics, "--json").json()[0]["collection"] == "topics-v1"
    assert latent("recommend", "-c", topics, "--positive", "A0", "--json").code == 0
    assert latent("delete", "-c", topics, "--id", "A0", "--json").json()["deleted"] == 1
    indexed = latent("index", "-c", topics, "-q", "--limit", "3", "--json")
    assert indexed.code == 0 and indexed.json()["collection"] == topics
    names = [c["name"] for c in latent("collections", "--json").json()]
    assert names == ["topics-v1"]  # written into the alias's collection, no collection named 'topics'


def test_reindex_gate_switches_when_quality_holds(latent, topics, beir) -> None:
    done = latent("reindex", "-c", topics, "--into", "topics-v2", "--index", "numpy", "--gate", beir, "--alias", topics,
                  "--json", "-q")  # fmt: skip
    assert done.code == 0, done.err
    report = done.json()
    assert report["decision"] == "switched" and report["switched"] and report["previous"] == "topics-v1"
    gate = report["gate"]
    assert gate["metric"] == "ndcg@10" and gate["queries"] == 9 and gate["margin"] == 0.01
    assert gate["candidate"] >= gate["current"] - 0.01 and gate["passed"]
    assert report["build"]["index"] == "numpy" and report["build"]["documents"] == 24
    assert latent("alias", "get", topics, "--json").json()["collection"] == "topics-v2"
    text = latent("reindex", "-c", "topics-v1", "--into", "topics-v2", "--gate", beir, "-q")
    assert text.code == 0 and "ndcg@10 topics-v1" in text.out and "24 unchanged" in text.out  # a re-run skips all


def test_reindex_gate_refuses_when_quality_drops(latent, topics, beir) -> None:
    """A deliberately bad model (the fake encoder in 2 dimensions) really scores lower: the alias stays."""
    done = latent("reindex", "-c", topics, "--into", "topics-bad", "--model", "fake:2", "--gate", beir,
                  "--alias", topics, "--json", "-q")  # fmt: skip
    assert done.code == 1
    report = done.json()
    gate = report["gate"]
    assert report["decision"] == "kept" and not report["switched"] and not gate["passed"]
    assert gate["candidate"] < gate["current"] - gate["margin"]
    assert "dropped" in report["reason"] and "still points at 'topics-v1'" in report["reason"]
    assert report["build"]["model"] == "fake:2"
    assert latent("alias", "get", topics, "--json").json()["collection"] == "topics-v1"
    # A margin as large as the drop lets it through: the decision follows the measurement.
    wide = latent("reindex", "-c", topics, "--into", "topics-bad", "--gate", beir, "--margin", "1", "--json", "-q")
    assert wide.code == 0 and wide.json()["decision"] == "built" and wide.json()["gate"]["passed"]


def test_reindex_without_gate_switches_after_the_build(latent, topics) -> None:
    done = latent(
        "reindex", "-c", topics, "--into", "topics-hnsw", "--index", "hnsw", "--alias", topics, "--json", "-q"
    )
    assert done.code == 0 and done.json()["decision"] == "switched" and done.json()["gate"] is None
    assert latent("search", "cello piano", "-c", topics, "--json").json()["hits"][0]["id"].startswith("C")


def test_reindex_checks_before_building(latent, topics, tmp_path) -> None:
    assert latent("reindex", "-c", topics, "--into", "x", "--gate", tmp_path / "nothing").code == 2
    assert latent("reindex", "-c", topics, "--into", "x", "--alias", "topics-v1").code == 1  # a collection's name
    assert latent("reindex", "-c", topics, "--into", "x", "--margin", "3").code == 2
    assert latent("reindex", "-c", topics, "--into", topics).code == 1  # into an alias
    assert latent("reindex", "-c", "topics-v1", "--into", "topics-v1").code == 2
    assert [c["name"] for c in latent("collections", "--json").json()] == ["topics-v1"]  # nothing was built


def _stored(home: Path, collection: str) -> int:
    db = home / "latent.db"
    try:
        with sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=5) as conn:
            row = conn.execute(
                "SELECT count(*) FROM documents d JOIN collections c ON c.id = d.collection_id WHERE c.name = ?",
                (collection,),
            ).fetchone()
            return int(row[0])
    except sqlite3.Error:
        return 0


def test_ctrl_c_then_resume(tmp_path: Path) -> None:
    """SIGINT mid-build exits 130 and keeps finished pages; the same command again finishes the rest."""
    home = tmp_path / "home"
    corpus = write_jsonl(tmp_path / "c.jsonl", jsonl_records(3000, words=40))
    assert cli.run(home, "index", corpus, "-c", "src", "-q").returncode == 0
    args = ("reindex", "-c", "src", "--into", "dst", "--batch-docs", "50", "-q", "--json")
    proc = cli.popen(home, *args)
    deadline = time.monotonic() + 60
    while _stored(home, "dst") < 100 and time.monotonic() < deadline and proc.poll() is None:
        time.sleep(0.01)
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=60)
    if proc.returncode == 0:
        pytest.skip("the build finished before the interrupt landed")
    assert proc.returncode == 130, err
    assert b"run the same command again" in err
    partial = _stored(home, "dst")
    assert 0 < partial < 3000
    resumed = cli.run(home, *args)
    assert resumed.returncode == 0, resumed.stderr
    build = json.loads(resumed.stdout)["build"]
    assert build["unchanged"] >= partial - 50 and build["embedded"] + build["unchanged"] == 3000
    assert _stored(home, "dst") == 3000
