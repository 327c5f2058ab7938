"""`latent index --engine ray`: the store equals the local engine's for the same input, a SIGKILLed run
resumes without re-embedding what it stored, and a rerun re-embeds nothing. One local Ray per module."""

from __future__ import annotations

import signal
import sqlite3
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from helpers import cli
from helpers.corpora import jsonl_records, numbered_words, write_csv, write_jsonl

from latent.config import get_settings
from latent.store.store import Store

pytestmark = pytest.mark.slow

ray = pytest.importorskip("ray", reason="the 'ray' extra is not installed")


@pytest.fixture(scope="module")
def ray_address() -> Iterator[str]:
    """A local two-CPU Ray for the whole module; the CLI in this process reuses it, children join it."""
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    yield ray.get_runtime_context().gcs_address
    ray.shutdown()


def stored_documents(home: Path) -> int:
    """Documents committed so far, read from SQLite while the indexer writes (WAL)."""
    try:
        with sqlite3.connect(f"file:{home / 'latent.db'}?mode=ro", uri=True, timeout=5) as conn:
            return int(conn.execute("SELECT count(*) FROM documents").fetchone()[0])
    except sqlite3.Error:  # no database or no schema yet
        return 0


def wait_until_stored(proc: subprocess.Popen[bytes], home: Path, target: int, timeout: float = 120) -> int:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if (count := stored_documents(home)) >= target:
            return count
        if proc.poll() is not None:
            pytest.fail(f"indexer exited ({proc.returncode}) early: {proc.communicate()[1][-800:]!r}")
        time.sleep(0.02)
    proc.kill()
    pytest.fail(f"fewer than {target} documents stored after {timeout}s")


@pytest.fixture
def corpus(tmp_path: Path) -> Path:
    """A directory as users have them: a JSONL with long (multi-chunk) and bad lines, a CSV, a Parquet, a note."""
    folder = tmp_path / "corpus"
    folder.mkdir()
    records: list = jsonl_records(200, words=8)
    for i, record in enumerate(records[::10]):
        record["text"] = numbered_words(150 + i)  # the fake encoder's window is 62 tokens: 3+ chunks
    write_jsonl(folder / "papers.jsonl", [*records[:100], "{not json", *records[100:]])
    write_csv(
        folder / "extra.csv", [{"id": f"csv{i}", "title": f"row {i}", "text": f"cell {i} gene"} for i in range(30)]
    )
    rows = [{"id": f"pq{i}", "title": f"table {i}", "text": f"quantum wave {i}", "year": 2000 + i} for i in range(20)]
    pq.write_table(pa.Table.from_pylist(rows), folder / "table.parquet")
    (folder / "notes").mkdir()
    (folder / "notes" / "a.md").write_text("# Enzymes\n\nenzyme catalyst reaction", encoding="utf-8")
    return folder


def snapshot(home: Path) -> dict[str, tuple[int, np.ndarray]]:
    """Every document's chunk count and vector (mean of its chunk vectors), read through the store."""
    with Store.open(get_settings(home=home, model="fake")) as store:
        collection = store.collection("c")
        ids, vectors = collection.all_document_vectors()
        records = {r.id: r for r in collection.get_many(ids, with_text=False)}
        return {i: (records[i].chunk_count, v) for i, v in zip(ids, vectors, strict=True)}


def index(capsys, monkeypatch, home: Path, source: Path, *extra: str) -> cli.CliResult:
    return cli.invoke(
        capsys, monkeypatch, "--home", home, "--model", "fake", "index", source, "-c", "c", "-q", "--json", *extra
    )


def test_ray_store_equals_local_and_rerun_embeds_nothing(ray_address, corpus, tmp_path, capsys, monkeypatch):
    local = index(capsys, monkeypatch, tmp_path / "local", corpus)
    assert local.code == 0, local.err
    batches = ("--batch-docs", "40", "--workers", "2")
    remote = index(
        capsys, monkeypatch, tmp_path / "ray", corpus, "--engine", "ray", "--ray-address", ray_address, *batches
    )
    assert remote.code == 0, remote.err
    got, want = remote.json(), local.json()
    for key in ("indexed", "unchanged", "rejected", "chunks", "tokens"):
        assert got[key] == want[key], key
    assert got["indexed"] == 251 and got["rejected"] == 1 and "papers.jsonl:101" in got["rejections"][0]

    ray_docs, local_docs = snapshot(tmp_path / "ray"), snapshot(tmp_path / "local")
    assert sorted(ray_docs) == sorted(local_docs)
    assert max(n for n, _ in ray_docs.values()) >= 3
    for doc_id, (chunks, vector) in local_docs.items():
        assert ray_docs[doc_id][0] == chunks, doc_id
        np.testing.assert_allclose(ray_docs[doc_id][1], vector, atol=1e-4)
    checked = cli.invoke(capsys, monkeypatch, "--home", tmp_path / "ray", "--model", "fake", "check", "--json")
    assert checked.code == 0 and checked.json()[0]["vectors"] == sum(n for n, _ in ray_docs.values())

    again = index(capsys, monkeypatch, tmp_path / "ray", corpus, "--engine", "ray", *batches)
    assert again.code == 0, again.err
    assert (again.json()["indexed"], again.json()["unchanged"], again.json()["chunks"]) == (0, 251, 0)


def test_sigkill_mid_run_then_resume_without_reembedding(ray_address, tmp_path, capsys, monkeypatch):
    n_docs, batch = 3000, 25
    source = write_jsonl(tmp_path / "big.jsonl", jsonl_records(n_docs, words=8))
    home = tmp_path / "home"
    args = ("index", source, "-c", "c", "--engine", "ray", "--ray-address", ray_address, "--batch-docs", str(batch))
    proc = cli.popen(home, *args, "-q", "--json", "--workers", "1", LATENT_CHECKPOINT_SECONDS="0")
    seen = wait_until_stored(proc, home, 3 * batch)
    proc.send_signal(signal.SIGKILL)
    proc.communicate(timeout=30)
    assert proc.returncode == -signal.SIGKILL
    count = stored_documents(home)
    assert seen <= count < n_docs, "the run finished before the kill"
    checked = cli.invoke(capsys, monkeypatch, "--home", home, "--model", "fake", "check", "--json")
    assert checked.code == 0 and checked.json()[0]["documents"] == checked.json()[0]["vectors"] == count

    resumed = index(capsys, monkeypatch, home, source, "--engine", "ray", "--batch-docs", str(batch))
    assert resumed.code == 0, resumed.err
    assert resumed.json()["unchanged"] == count  # filtered on the workers before embedding
    assert resumed.json()["indexed"] == resumed.json()["chunks"] == n_docs - count
    assert stored_documents(home) == n_docs
    checked = cli.invoke(capsys, monkeypatch, "--home", home, "--model", "fake", "check", "--json")
    assert checked.code == 0 and checked.json()[0]["vectors"] == n_docs


def test_ray_options_need_the_ray_engine_and_stdin_is_refused(tmp_path, capsys, monkeypatch):
    source = write_jsonl(tmp_path / "one.jsonl", jsonl_records(1))
    wrong = index(capsys, monkeypatch, tmp_path / "h", source, "--workers", "2")
    assert wrong.code == 2 and "need --engine ray" in wrong.err
    bad = index(capsys, monkeypatch, tmp_path / "h", source, "--engine", "spark")
    assert bad.code == 2 and "local or ray" in bad.err
    stdin = index(capsys, monkeypatch, tmp_path / "h", Path("-"), "--engine", "ray")
    assert stdin.code == 2 and "stdin" in stdin.err
    given = index(capsys, monkeypatch, tmp_path / "h", source, "--engine", "ray", "--vector-field", "v")
    assert given.code == 2 and "--engine local" in given.err
