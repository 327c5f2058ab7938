"""`latent index --vector-field`: documents with their own vectors into a collection without a model."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import numpy as np
import pytest
from helpers import cli

from latent.config import get_settings
from latent.search import SearchOptions, search
from latent.store.store import Store

DIM = 4


@pytest.fixture
def latent(tmp_path, capsys, monkeypatch):
    home = tmp_path / "home"

    def run(*args):
        return cli.invoke(capsys, monkeypatch, "--home", home, "--model", "fake", *args)

    run.home = home
    return run


def _vectors(n: int) -> np.ndarray:
    return np.random.default_rng(5).standard_normal((n, DIM)).astype(np.float32) * 3


def test_index_jsonl_vectors_into_an_l2_collection(latent, tmp_path: Path) -> None:
    vectors = _vectors(20)
    path = tmp_path / "own.jsonl"
    lines = [{"_id": f"v{i}", "text": f"item {i}", "emb": v.tolist(), "kind": "x"} for i, v in enumerate(vectors)]
    lines.append({"_id": "bad", "text": "no numbers", "emb": "oops"})
    path.write_text("\n".join(json.dumps(x) for x in lines) + "\n")
    args = ("index", path, "-c", "own", "--vector-field", "emb", "--dimension", DIM, "--metric", "l2", "-q", "--json")
    result = latent(*args)
    assert result.code == 0, result.err
    summary = result.json()
    assert (summary["indexed"], summary["rejected"]) == (20, 1)
    assert "emb" in summary["rejections"][0]
    listed = {c["name"]: c for c in latent("collections", "--json").json()}
    assert (listed["own"]["model"], listed["own"]["dimension"]) == ("", DIM)
    again = latent(*args)
    assert again.json()["unchanged"] == 20  # same vectors: nothing re-written
    checked = latent("check", "-c", "own")
    assert checked.code == 0, checked.out + checked.err  # hashes of given vectors verify too
    text = latent("search", "item", "-c", "own", "--json")
    assert text.code == 2 and "no encoder" in text.err
    with Store.open(get_settings(home=latent.home, model="fake")) as store:
        collection = store.collection("own")
        assert collection.metric == "l2" and collection.get("v3").metadata == {"kind": "x"}
        hits = search(collection, vector=vectors[3].tolist(), options=SearchOptions(k=3))
    distances = ((vectors - vectors[3]) ** 2).sum(axis=1)
    assert [h.id for h in hits] == [f"v{i}" for i in np.argsort(distances)[:3]]
    assert hits[0].score == pytest.approx(0.0, abs=1e-4)  # l2: minus the squared distance


def test_index_csv_vectors_and_a_wrong_width(latent, tmp_path: Path) -> None:
    vectors = _vectors(5)
    path = tmp_path / "own.csv"
    with open(path, "w", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(["id", "text", "vec"])
        for i, v in enumerate(vectors):
            writer.writerow([f"c{i}", f"row {i}", json.dumps(v.tolist())])
    result = latent("index", path, "-c", "rows", "--vector-field", "vec", "--dimension", DIM, "-q", "--json")
    assert result.code == 0, result.err
    assert result.json()["indexed"] == 5
    wrong = latent("index", path, "-c", "wide", "--vector-field", "vec", "--dimension", DIM + 1, "-q")
    assert wrong.code == 2 and "dimension" in wrong.err
    bad_metric = latent("index", path, "-c", "m", "--vector-field", "vec", "--dimension", DIM, "--metric", "cos")
    assert bad_metric.code == 2 and "metric" in bad_metric.err
