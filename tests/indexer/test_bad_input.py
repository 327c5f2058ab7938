"""Bad input: each case is one clear error line or a reported skip with file:line, an exit code (2 the input
or a setting is wrong, 1 the job found nothing to index or failed), and nothing already stored is lost."""

from __future__ import annotations

import io
import json
import sys

import pytest
from helpers import cli
from helpers.corpora import jsonl_records, write_csv, write_jsonl

from indexer.sources import MAX_LINE_BYTES


@pytest.fixture
def home(tmp_path):
    return tmp_path / "home"


@pytest.fixture
def latent(home, capsys, monkeypatch):
    def run(*args):
        return cli.invoke(capsys, monkeypatch, "--home", home, "--model", "fake", *args)

    return run


@pytest.fixture
def stored(latent, tmp_path):
    """A collection 'papers' with 20 documents already in it; yields a function giving its count now."""
    result = latent("index", write_jsonl(tmp_path / "base.jsonl", jsonl_records(20)), "-c", "papers", "-q")
    assert result.code == 0

    def count() -> dict[str, int]:
        return {c["name"]: c["documents"] for c in latent("collections", "--json").json()}

    assert count() == {"papers": 20}
    return count


def assert_one_error_line(result, *fragments: str) -> None:
    lines = result.err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), result.err
    for fragment in fragments:
        assert fragment in lines[0]
    assert "Traceback" not in result.err


def assert_intact(latent, stored, expected=None) -> None:
    assert stored() == (expected or {"papers": 20})
    assert latent("check").code == 0


def test_missing_file(latent, stored, tmp_path):
    result = latent("index", tmp_path / "nope.jsonl", "-c", "papers")
    assert result.code == 2
    assert_one_error_line(result, "no such file or directory", "nope.jsonl")
    other = latent("index", tmp_path / "nope.jsonl", "-c", "fresh")
    assert other.code == 2
    assert_intact(latent, stored)  # and no empty 'fresh' collection was created


@pytest.mark.parametrize("content", [b"", b"\n\n   \n"])
def test_empty_file(latent, stored, tmp_path, content):
    path = tmp_path / "empty.jsonl"
    path.write_bytes(content)
    result = latent("index", path, "-c", "papers", "-q")
    assert result.code == 1
    assert_one_error_line(result, "empty.jsonl holds no documents")
    assert_intact(latent, stored)


def test_unsupported_file_type(latent, stored, tmp_path):
    path = tmp_path / "data.xlsx"
    path.write_bytes(b"PAR1")
    result = latent("index", path, "-c", "papers")
    assert result.code == 2
    assert_one_error_line(result, "unsupported file type '.xlsx'")
    assert_intact(latent, stored)


MALFORMED = {
    "non-utf8": (b'{"_id": "bad", "text": "caf\xe9 \xff"}', "not UTF-8"),
    "no-text": (b'{"_id": "bad", "title": "only a title field missing text"}', "no text field"),
    "empty-text": (b'{"_id": "bad", "text": "   "}', "empty text"),
    "invalid-json": (b'{"_id": "bad", "text": "unterminated', "invalid JSON"),
    "not-an-object": (b'["a", "list"]', "must hold a JSON object"),
    "huge": (json.dumps({"_id": "bad", "text": "x" * (MAX_LINE_BYTES + 10)}).encode(), "longer than 8 MiB"),
}


@pytest.mark.parametrize("case", list(MALFORMED))
def test_malformed_line_is_reported_and_skipped(latent, stored, tmp_path, case):
    line, reason = MALFORMED[case]
    good = [json.dumps(r).encode() for r in jsonl_records(3, start=100)]
    path = write_jsonl(tmp_path / "mixed.jsonl", [good[0], line, good[1], good[2]])
    result = latent("index", path, "-c", "papers", "-q", "--json")
    assert result.code == 0, result.err
    summary = result.json()
    assert (summary["indexed"], summary["rejected"]) == (3, 1)
    assert summary["rejections"] == [f"{path}:2: " + summary["rejections"][0].split(": ", 1)[1]]
    assert reason in summary["rejections"][0]
    assert f"skipped {path}:2: " in result.err and reason in result.err  # reported even with --quiet
    assert_intact(latent, stored, {"papers": 23})


@pytest.mark.parametrize("case", ["invalid-json", "non-utf8", "no-text"])
def test_strict_makes_a_malformed_line_fatal(latent, stored, tmp_path, case):
    line, reason = MALFORMED[case]
    good = [json.dumps(r).encode() for r in jsonl_records(3, start=100)]
    path = write_jsonl(tmp_path / "mixed.jsonl", [good[0], good[1], line, good[2]])
    result = latent("index", path, "-c", "papers", "--strict", "-q")
    assert result.code == 2
    assert_one_error_line(result, f"{path}:3:", reason)
    assert_intact(latent, stored)


def test_summary_line_counts_rejections(latent, stored, tmp_path):
    path = write_jsonl(tmp_path / "m.jsonl", [jsonl_records(1, start=50)[0], "{broken", "{}"])
    result = latent("index", path, "-c", "papers", "-q")
    assert result.code == 0
    assert "indexed 1, unchanged 0, metadata updated 0, rejected 2" in result.out
    assert f"skipped {path}:2: invalid JSON" in result.err and f"skipped {path}:3: " in result.err


def test_every_line_bad_fails_the_job(latent, stored, tmp_path):
    path = write_jsonl(tmp_path / "bad.jsonl", ["{broken", b"\xff\xfe", '{"_id": "x"}'])
    result = latent("index", path, "-c", "papers", "-q")
    assert result.code == 1
    assert "error: no document could be indexed" in result.err
    assert result.err.count("skipped ") == 3
    assert_intact(latent, stored)


def test_bad_csv_and_text_files(latent, stored, tmp_path):
    csv_path = tmp_path / "t.csv"
    csv_path.write_bytes(b"id,text\nc1,fine\nc2,caf\xe9\n")
    result = latent("index", csv_path, "-c", "papers", "-q", "--json")
    assert result.code == 0 and result.json()["indexed"] == 1 and result.json()["rejected"] == 1
    assert result.json()["rejections"] == [f"{csv_path}:3: not UTF-8"] and "not UTF-8" in result.err
    empty = tmp_path / "empty.txt"
    empty.write_text("  \n")
    result = latent("index", empty, "-c", "papers", "-q")
    assert result.code == 1 and f"skipped {empty}:1: empty file" in result.err
    binary = tmp_path / "bin.md"
    binary.write_bytes(b"\x89PNG\r\n\x1a\n\xff")
    result = latent("index", binary, "-c", "papers", "-q")
    assert result.code == 1 and "not UTF-8" in result.err
    assert_intact(latent, stored, {"papers": 21})


def test_directory_without_documents(latent, stored, tmp_path):
    (tmp_path / "nothing").mkdir()
    (tmp_path / "nothing" / "image.png").write_bytes(b"\x89PNG")
    result = latent("index", tmp_path / "nothing", "-c", "papers", "-q")
    assert result.code == 1
    assert_one_error_line(result, "holds no documents")
    assert_intact(latent, stored)


@pytest.mark.parametrize(
    "args",
    [
        ("search", "x", "-c", "nope"),
        ("delete", "-c", "nope", "--id", "1"),
        ("delete", "-c", "nope", "--drop"),
        ("check", "-c", "nope"),
    ],
)
def test_unknown_collection(latent, stored, args):
    result = latent(*args)
    assert result.code == 1
    assert_one_error_line(result, "collection 'nope' does not exist")
    assert_intact(latent, stored)


@pytest.fixture
def stdin(monkeypatch):
    """Feed bytes to `latent index -` in-process (test_sources pipes a real subprocess)."""

    def feed(data: bytes) -> None:
        monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(data)))

    return feed


def test_stdin_with_bad_bytes_is_a_reported_skip(latent, stored, stdin):
    lines = b"".join(json.dumps(r).encode() + b"\n" for r in jsonl_records(2, start=200))
    stdin(lines + b'{"_id": "x", "text": "\xff"}\n')
    result = latent("index", "-", "-c", "papers", "-q")
    assert result.code == 0, result.err
    assert "skipped <stdin>:3: not UTF-8" in result.err
    assert_intact(latent, stored, {"papers": 22})


def test_empty_stdin(latent, stored, stdin):
    stdin(b"")
    result = latent("index", "-", "-c", "papers", "-q")
    assert result.code == 1
    assert_one_error_line(result, "- holds no documents")
    assert_intact(latent, stored)


def test_bad_database_url_is_one_line(tmp_path, capsys, monkeypatch):
    result = cli.invoke(
        capsys,
        monkeypatch,
        "--home",
        tmp_path,
        "--model",
        "fake",
        "--database-url",
        "nosuchdialect://x/y",
        "collections",
    )
    assert result.code == 2
    assert_one_error_line(result, "invalid database URL", "nosuchdialect")


def test_unknown_model_is_one_line_and_never_downloads(tmp_path, capsys, monkeypatch):
    path = write_csv(tmp_path / "t.csv", [{"id": "1", "text": "x"}])
    result = cli.invoke(
        capsys,
        monkeypatch,
        "--home",
        tmp_path / "home",
        "--model",
        "no-such/model-anywhere",
        "index",
        path,
        "-c",
        "m",
        "-q",
    )
    assert result.code == 1
    assert_one_error_line(result, "no-such/model-anywhere", "never downloads")
