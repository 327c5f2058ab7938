"""The `latent` command line end to end: index → search → collections → delete → check, help, exit codes."""

from __future__ import annotations

import subprocess
import sys

import pytest
import typer
from helpers import cli
from helpers.corpora import jsonl_records, write_jsonl

from indexer.cli import app
from latent import __version__

COMMANDS = sorted(typer.main.get_command(app).commands)


@pytest.fixture
def latent(tmp_path, capsys, monkeypatch):
    """`latent(*args)` runs the CLI in-process on a temp home with the fake model."""
    home = tmp_path / "home"

    def run(*args):
        return cli.invoke(capsys, monkeypatch, "--home", home, "--model", "fake", *args)

    return run


@pytest.fixture
def corpus(tmp_path):
    return write_jsonl(tmp_path / "corpus.jsonl", jsonl_records(30))


def test_index_search_collections_delete_check(latent, corpus):
    indexed = latent("index", corpus, "-c", "papers", "-q", "--json")
    assert indexed.code == 0, indexed.err
    summary = indexed.json()
    assert (summary["indexed"], summary["unchanged"], summary["rejected"], summary["chunks"]) == (
        30,
        0,
        0,
        30,
    )
    assert summary["tokens"] > 0 and {"seconds", "docs_per_second", "tokens_per_second"} <= set(summary)

    r7 = jsonl_records(1, start=7)[0]
    found = latent("search", r7["text"], "-c", "papers", "-k", "3", "--json")
    assert found.code == 0
    hits = found.json()["hits"]
    assert len(hits) == 3 and hits[0]["id"] == "r7" and hits[0]["rank"] == 1
    assert hits[0]["chunk"] == {"ordinal": 0, "start": 0, "end": len(r7["text"])}

    table = latent("search", r7["text"], "-c", "papers", "-k", "2")
    assert table.code == 0 and "r7" in table.out and "record 7" in table.out

    listed = latent("collections", "--json")
    assert listed.code == 0
    (entry,) = listed.json()
    assert {k: entry[k] for k in ("name", "model", "dimension", "documents", "chunks")} == {
        "name": "papers",
        "model": "fake",
        "dimension": 64,
        "documents": 30,
        "chunks": 30,
    }
    assert "papers" in latent("collections").out

    deleted = latent("delete", "-c", "papers", "--id", "r7", "--id", "r8", "--json")
    assert deleted.code == 0 and deleted.json() == {"deleted": 2, "missing": 0}
    assert latent("collections", "--json").json()[0]["documents"] == 28
    assert "r7" not in [h["id"] for h in latent("search", "item7", "-c", "papers", "-k", "28", "--json").json()["hits"]]

    checked = latent("check", "--json")
    assert checked.code == 0
    assert checked.json()[0] | {"ok": True} == {
        "collection": "papers",
        "documents": 28,
        "chunks": 28,
        "vectors": 28,
        "problems": [],
        "ok": True,
    }
    assert latent("check", "-c", "papers").code == 0


def test_rerun_reports_unchanged(latent, corpus):
    assert latent("index", corpus, "-c", "papers", "-q").code == 0
    again = latent("index", corpus, "-c", "papers", "-q")
    assert again.code == 0
    assert again.out.startswith("papers: indexed 0, unchanged 30, metadata updated 0, rejected 0;")


def test_progress_goes_to_stderr_and_the_summary_to_stdout(latent, corpus):
    result = latent("index", corpus, "-c", "papers")
    assert result.code == 0
    assert result.out.count("\n") == 1 and result.out.startswith("papers: indexed 30")
    assert "indexing papers" in result.err


def test_search_modes_and_filters(latent, corpus):
    latent("index", corpus, "-c", "papers", "-q")
    for mode in ("dense", "sparse", "hybrid"):
        result = latent("search", "enzyme", "-c", "papers", "--mode", mode, "-k", "3", "--json")
        assert result.code == 0 and len(result.json()["hits"]) == 3
    filtered = latent("search", "enzyme", "-c", "papers", "-k", "30", "--filter", '{"group": 2}', "--json")
    ids = [h["id"] for h in filtered.json()["hits"]]
    assert ids and all(int(i[1:]) % 5 == 2 for i in ids)


def test_delete_whole_collection(latent, corpus):
    latent("index", corpus, "-c", "papers", "-q")
    assert latent("delete", "-c", "papers", "--drop").code == 0
    assert latent("collections", "--json").json() == []


def test_demo_corpus_when_no_source_is_given(latent):
    result = latent("index", "--limit", "20", "-q", "--json")
    assert result.code == 0, result.err
    assert result.json()["indexed"] == 20 and result.json()["collection"] == "demo"
    hits = latent("search", "parse command line arguments", "-c", "demo", "-k", "3", "--json").json()["hits"]
    assert len(hits) == 3


@pytest.mark.parametrize(
    ("args", "code", "message"),
    [
        (("delete", "-c", "papers"), 2, "give --id"),
        (("delete", "-c", "papers", "--id", "nope"), 1, "no document with id nope"),
        (("search", "x", "-c", "papers", "--filter", "{not json"), 2, "--filter is not valid JSON"),
        (
            ("search", "x", "-c", "papers", "--filter", '{"group": {"$near": 1}}'),
            2,  # invalid input is a usage error in every command (was 1 here, 2 in the subcommands)
            "unknown operator '$near'",
        ),
        (("search", "x", "-c", "papers", "--mode", "fuzzy"), 2, "mode must be one of"),
        (("search", "x", "-c", "nope"), 1, "collection 'nope' does not exist"),
        (("search", "x", "-c", "papers", "-k", "0"), 2, None),
        (("no-such-command",), 2, None),
        (("index", "--no-such-option"), 2, None),
    ],
)
def test_exit_codes(latent, corpus, args, code, message):
    latent("index", corpus, "-c", "papers", "-q")
    result = latent(*args)
    assert result.code == code, result.out + result.err
    if message is not None:
        assert result.err.startswith("error: ") and message in result.err
        assert len(result.err.strip().splitlines()) == 1  # one clear line, no traceback


def test_help_lists_every_command(latent):
    result = latent("--help")
    assert result.code == 0
    for name in COMMANDS:
        assert name in result.out
    assert {"index", "search", "eval", "collections", "delete", "check", "serve"} <= set(COMMANDS)


@pytest.mark.parametrize("command", COMMANDS)
def test_every_command_has_help(latent, command):
    result = latent(command, "--help")
    assert result.code == 0
    assert "Usage:" in result.out and command in result.out
    assert "--help" in result.out


def test_no_arguments_shows_help(latent):
    result = latent()
    assert result.code in (0, 2) and "Usage:" in (result.out + result.err)


def test_version(latent):
    result = latent("--version")
    assert result.code == 0 and result.out.strip() == f"latent {__version__}"


def test_python_dash_m_latent_version():
    done = subprocess.run(
        [sys.executable, "-m", "latent", "--version"],
        capture_output=True,
        text=True,
        cwd=cli.REPO,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == f"latent {__version__}"


def test_environment_variables_configure_the_cli(tmp_path, corpus):
    """The console script reads LATENT_HOME and LATENT_MODEL (no flags)."""
    done = cli.run(tmp_path / "env-home", "index", corpus, "-c", "envs", "-q", "--json")
    assert done.returncode == 0, done.stderr
    assert (tmp_path / "env-home" / "latent.db").exists()
    from latent.config import get_settings
    from latent.store.store import Store

    with Store.open(get_settings(home=tmp_path / "env-home")) as store:
        (info,) = store.list_collections()
    assert (info.name, info.model, info.documents) == ("envs", "fake", 30)
