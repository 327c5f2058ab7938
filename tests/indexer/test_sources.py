"""Document sources: JSONL (BEIR and mapped shapes), CSV, text/markdown files, directories, stdin."""

from __future__ import annotations

import json

import pytest
from helpers import cli
from helpers.corpora import jsonl_records, write_csv, write_jsonl

from indexer.sources import FieldMap, Rejected, iter_source
from latent.errors import InvalidInput
from latent.records import DocumentInput


def docs_of(path, fields=None) -> list[DocumentInput | Rejected]:
    return list(iter_source(str(path), fields))


def test_jsonl_in_beir_shape(tmp_path):
    path = write_jsonl(
        tmp_path / "c.jsonl",
        [
            {"_id": "1", "title": "T1", "text": "body one", "year": 2020, "tags": ["x"]},
            {"_id": 2, "text": "body two"},  # numeric ids become strings; title optional
        ],
    )
    one, two = docs_of(path)
    assert one == DocumentInput(id="1", text="body one", title="T1", metadata={"year": 2020, "tags": ["x"]})
    assert two == DocumentInput(id="2", text="body two", title="", metadata={})


def test_field_mapping(tmp_path):
    path = write_jsonl(
        tmp_path / "c.jsonl",
        [
            {
                "key": "a",
                "head": "Heading",
                "abstract": "first part",
                "body": "second part",
                "lang": "en",
                "n": 1,
            },
        ],
    )
    fields = FieldMap(id_field="key", title_field="head", text_fields=["abstract", "body"], metadata_fields=["lang"])
    (doc,) = docs_of(path, fields)
    assert doc == DocumentInput(id="a", text="first part\n\nsecond part", title="Heading", metadata={"lang": "en"})
    # A record missing the mapped id field is rejected with its line.
    write_jsonl(path, [{"id": "x", "abstract": "text"}])
    (rej,) = docs_of(path, fields)
    assert isinstance(rej, Rejected) and rej.where == f"{path}:1" and "'key'" in rej.reason


def test_jsonl_without_id_uses_file_and_line(tmp_path):
    path = write_jsonl(tmp_path / "notes.jsonl", [{"text": "no id here"}, "", {"text": "second"}])
    items = docs_of(path)
    assert [d.id for d in items] == ["notes:1", "notes:3"]  # blank lines skipped, numbering kept


def test_csv(tmp_path):
    path = write_csv(
        tmp_path / "c.csv",
        [
            {"id": "r1", "title": "One", "text": "comma, separated", "lang": "en"},
            {"id": "r2", "title": "Two", "text": "multi\nline", "lang": "de"},
        ],
    )
    a, b = docs_of(path)
    assert a == DocumentInput(id="r1", text="comma, separated", title="One", metadata={"lang": "en"})
    assert b.text == "multi\nline" and b.metadata == {"lang": "de"}
    tsv = tmp_path / "c.tsv"
    tsv.write_text("id\ttext\nt1\ttab separated\n", encoding="utf-8")
    assert docs_of(tsv) == [DocumentInput(id="t1", text="tab separated")]
    bad = tmp_path / "bad.csv"
    bad.write_text("id,text\nr1,fine\nr2,too,many\n", encoding="utf-8")
    ok, rej = docs_of(bad)
    assert ok.id == "r1" and isinstance(rej, Rejected) and rej.where == f"{bad}:3"


def test_text_and_markdown_files(tmp_path):
    md = tmp_path / "guide.md"
    md.write_text("# Getting started\n\nInstall it and run it.\n", encoding="utf-8")
    (doc,) = docs_of(md)
    assert doc.id == "guide.md" and doc.title == "Getting started"
    assert doc.text == md.read_text() and doc.metadata == {"path": "guide.md", "suffix": ".md"}
    txt = tmp_path / "plain.txt"
    txt.write_text("Just a line of text.", encoding="utf-8")
    assert docs_of(txt)[0].title == "Just a line of text."


def test_directory_uses_relative_path_as_id(tmp_path):
    root = tmp_path / "docs"
    (root / "sub").mkdir(parents=True)
    (root / "a.md").write_text("# A\nalpha", encoding="utf-8")
    (root / "sub" / "b.txt").write_text("beta", encoding="utf-8")
    (root / "sub" / "data.jsonl").write_text(json.dumps({"_id": "j1", "text": "from jsonl"}) + "\n")
    (root / ".hidden").mkdir()
    (root / ".hidden" / "c.md").write_text("hidden", encoding="utf-8")
    (root / "image.png").write_bytes(b"\x89PNG")
    items = docs_of(root)
    assert [d.id for d in items] == ["a.md", "sub/b.txt", "j1"]
    assert items[1].metadata["path"] == "sub/b.txt"


def test_missing_and_unsupported_sources_fail_at_once(tmp_path):
    with pytest.raises(InvalidInput) as info:
        iter_source(str(tmp_path / "nope.jsonl"))  # raised on the call, before any iteration
    assert info.value.code == "source_not_found"
    odd = tmp_path / "file.xyz"
    odd.write_text("x")
    with pytest.raises(InvalidInput) as info:
        iter_source(str(odd))
    assert info.value.code == "unsupported_source"


def test_stdin_through_the_cli(tmp_path):
    lines = "".join(json.dumps(r) + "\n" for r in jsonl_records(5))
    done = cli.run(tmp_path / "home", "index", "-", "-c", "piped", "-q", "--json", input=lines.encode())
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["indexed"] == 5
    from latent.config import get_settings
    from latent.store.store import Store

    with Store.open(get_settings(home=tmp_path / "home", model="fake")) as store:
        assert store.collection("piped").get("r3").text == jsonl_records(5)[3]["text"]


def test_cli_field_mapping_options(tmp_path, capsys, monkeypatch):
    path = write_jsonl(
        tmp_path / "c.jsonl",
        [
            {
                "key": f"k{i}",
                "head": f"H{i}",
                "abstract": f"about thing {i}",
                "body": "more",
                "lang": "en",
                "x": i,
            }
            for i in range(3)
        ],
    )
    home = tmp_path / "home"
    result = cli.invoke(
        capsys,
        monkeypatch,
        "--home",
        home,
        "--model",
        "fake",
        "index",
        path,
        "-c",
        "mapped",
        "--id-field",
        "key",
        "--title-field",
        "head",
        "--text-fields",
        "abstract,body",
        "--metadata-fields",
        "lang",
        "-q",
        "--json",
    )
    assert result.code == 0, result.err
    assert result.json()["indexed"] == 3
    from latent.config import get_settings
    from latent.store.store import Store

    with Store.open(get_settings(home=home, model="fake")) as store:
        doc = store.collection("mapped").get("k1")
    assert (doc.title, doc.text, doc.metadata) == ("H1", "about thing 1\n\nmore", {"lang": "en"})


def test_cli_indexes_csv_text_and_directories(tmp_path, capsys, monkeypatch):
    home = tmp_path / "home"
    root = tmp_path / "tree"
    (root / "n").mkdir(parents=True)
    (root / "n" / "x.md").write_text("# X\nmarkdown body", encoding="utf-8")
    (root / "y.txt").write_text("plain body", encoding="utf-8")
    csv_path = write_csv(tmp_path / "t.csv", [{"id": "c1", "text": "csv body"}])
    for source, name in ((root, "tree"), (csv_path, "table"), (root / "y.txt", "single")):
        result = cli.invoke(
            capsys,
            monkeypatch,
            "--home",
            home,
            "--model",
            "fake",
            "index",
            source,
            "-c",
            name,
            "-q",
            "--json",
        )
        assert result.code == 0, result.err
    listed = {
        c["name"]: c["documents"]
        for c in cli.invoke(capsys, monkeypatch, "--home", home, "--model", "fake", "collections", "--json").json()
    }
    assert listed == {"tree": 2, "table": 1, "single": 1}
    hits = cli.invoke(
        capsys,
        monkeypatch,
        "--home",
        home,
        "--model",
        "fake",
        "search",
        "markdown body",
        "-c",
        "tree",
        "--json",
    ).json()["hits"]
    assert hits[0]["id"] == "n/x.md"
