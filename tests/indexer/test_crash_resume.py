"""Crash and resume: SIGKILL the indexer mid-run several times, re-run it, and nothing is lost or doubled;
Ctrl-C stops cleanly with exit 130 and keeps the finished batches."""

from __future__ import annotations

import json
import signal
import sqlite3
import time

import numpy as np
import pytest
from helpers import cli
from helpers.corpora import jsonl_records, write_jsonl

N_DOCS = 2000
BATCH = 50


def stored_documents(home) -> int:
    """Documents committed so far, read straight from SQLite while the indexer writes (WAL)."""
    db = home / "latent.db"
    if not db.exists():
        return 0
    try:
        with sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=5) as conn:
            return int(conn.execute("SELECT count(*) FROM documents").fetchone()[0])
    except sqlite3.Error:  # schema not created yet
        return 0


def wait_for(proc, home, target: int, timeout: float = 90) -> int:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        count = stored_documents(home)
        if count >= target:
            return count
        if proc.poll() is not None:
            out, err = proc.communicate()
            pytest.fail(f"indexer exited ({proc.returncode}) before {target} documents were stored: {err[-500:]!r}")
        time.sleep(0.01)
    proc.kill()
    pytest.fail(f"fewer than {target} documents stored after {timeout}s")


@pytest.fixture
def corpus(tmp_path):
    return write_jsonl(tmp_path / "corpus.jsonl", jsonl_records(N_DOCS, words=8))


def index_args(corpus):
    return ("index", corpus, "-c", "crash", "--batch-docs", str(BATCH), "-q", "--json")


def test_sigkill_mid_run_then_resume(tmp_path, corpus, capsys, monkeypatch):
    home = tmp_path / "home"
    rng = np.random.default_rng(20261123)
    count = 0
    for _ in range(3):
        # Checkpoint after every batch, so kills also land while the FAISS file is being written.
        proc = cli.popen(home, *index_args(corpus), LATENT_CHECKPOINT_SECONDS="0")
        target = count + int(rng.integers(2, 8)) * BATCH + int(rng.integers(0, BATCH))
        seen = wait_for(proc, home, target)
        proc.send_signal(signal.SIGKILL)
        proc.communicate(timeout=30)
        assert proc.returncode == -signal.SIGKILL
        count = stored_documents(home)
        assert count >= seen and count < N_DOCS  # committed batches survive the kill
        # Even before resuming, the store opens consistent: the index is replayed from SQL.
        checked = cli.invoke(capsys, monkeypatch, "--home", home, "--model", "fake", "check", "--json")
        assert checked.code == 0, checked.out
        assert checked.json()[0]["documents"] == checked.json()[0]["vectors"] == count

    final = cli.run(home, *index_args(corpus), LATENT_CHECKPOINT_SECONDS="0")
    assert final.returncode == 0, final.stderr
    summary = json.loads(final.stdout)
    assert summary["unchanged"] == count > 0  # stored documents were not re-embedded
    assert summary["indexed"] == N_DOCS - count and summary["rejected"] == 0
    assert stored_documents(home) == N_DOCS

    listed = cli.invoke(capsys, monkeypatch, "--home", home, "--model", "fake", "collections", "--json").json()
    assert (listed[0]["documents"], listed[0]["chunks"]) == (N_DOCS, N_DOCS)
    checked = cli.invoke(capsys, monkeypatch, "--home", home, "--model", "fake", "check", "--json")
    assert checked.code == 0, checked.out  # every SQL chunk has exactly one FAISS vector and vice versa
    assert checked.json()[0]["vectors"] == N_DOCS
    probe = jsonl_records(1, start=1234, words=8)[0]
    hits = cli.invoke(
        capsys,
        monkeypatch,
        "--home",
        home,
        "--model",
        "fake",
        "search",
        probe["text"],
        "-c",
        "crash",
        "-k",
        "1",
        "--json",
    ).json()["hits"]
    assert hits[0]["id"] == probe["_id"]


def test_ctrl_c_exits_130_and_keeps_finished_batches(tmp_path, capsys, monkeypatch):
    home = tmp_path / "home"
    n_docs = 600
    corpus = write_jsonl(tmp_path / "small.jsonl", jsonl_records(n_docs, words=8))
    proc = cli.popen(home, *index_args(corpus))
    seen = wait_for(proc, home, 4 * BATCH)
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=60)
    assert proc.returncode != 0, "the run finished before the signal arrived"
    assert proc.returncode == 130, err
    assert b"interrupted" in err and b"run the same command again" in err
    assert b"Traceback" not in err
    count = stored_documents(home)
    assert seen <= count < n_docs
    assert count % BATCH == 0  # whole batches only: the one in flight was rolled back
    checked = cli.invoke(capsys, monkeypatch, "--home", home, "--model", "fake", "check")
    assert checked.code == 0, checked.out
    resumed = cli.invoke(capsys, monkeypatch, "--home", home, "--model", "fake", *index_args(corpus))
    assert resumed.code == 0
    assert resumed.json()["unchanged"] == count and resumed.json()["indexed"] == n_docs - count
