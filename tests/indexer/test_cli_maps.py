"""`latent clusterings …` and `latent maps …` through the real entry point, on a clustered and mapped home."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from helpers.cli import CliResult, invoke
from helpers.topics import PER_TOPIC, topic_docs

from latent.clustering.runs import run_clustering
from latent.config import get_settings
from latent.maps.runs import fit_map
from latent.records import DocumentInput
from latent.store.store import Store

Latent = Callable[..., CliResult]


@pytest.fixture(scope="module")
def home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    home = tmp_path_factory.mktemp("cli-maps")
    with Store(get_settings(home=home, model="fake")) as store:
        c = store.create_collection("t")
        c.upsert([DocumentInput(id=d["id"], text=d["text"], title=d["title"]) for d in topic_docs()])
        run_clustering(c, {"algorithm": "kmeans", "k": 3})
        fit_map(c, {"n_neighbors": 5})
    return home


@pytest.fixture
def latent(home: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> Latent:
    monkeypatch.setenv("LATENT_HOME", str(home))
    monkeypatch.setenv("LATENT_MODEL", "fake")
    return lambda *args: invoke(capsys, monkeypatch, *args)


def test_clusterings_list_get_and_documents(latent: Latent) -> None:
    listed = latent("clusterings", "list", "-c", "t", "--json")
    assert listed.code == 0, listed.err
    (run,) = listed.json()
    got = latent("clusterings", "get", str(run["id"]), "-c", "t", "--json").json()
    assert got["id"] == run["id"] and len(got["clusters"]) == 3
    assert all(c["label"] for c in got["clusters"]) and sum(c["size"] for c in got["clusters"]) == 3 * PER_TOPIC
    biggest = max(got["clusters"], key=lambda c: c["size"])
    page = latent("clusterings", "documents", str(run["id"]), str(biggest["id"]), "-c", "t", "--with-text", "--json")
    assert page.json()["count"] == biggest["size"] and all(d["text"] for d in page.json()["data"])
    table = latent("clusterings", "get", str(run["id"]), "-c", "t")
    assert table.code == 0 and biggest["label"].split(",")[0] in table.out


def test_maps_list_get_points_and_project(latent: Latent) -> None:
    (m,) = latent("maps", "list", "-c", "t", "--json").json()
    assert m["points"] == 3 * PER_TOPIC and "path" not in m
    assert latent("maps", "get", str(m["id"]), "-c", "t", "--json").json()["quality"] == m["quality"]
    points = latent("maps", "points", str(m["id"]), "-c", "t", "--limit", "5", "--json").json()
    assert points["count"] == 3 * PER_TOPIC and len(points["data"]) == 5
    assert all(p["cluster"] is not None for p in points["data"])
    stored = latent("maps", "project", str(m["id"]), "-c", "t", "--id", "A0", "--json").json()["points"][0]
    a0 = next(
        p
        for p in latent("maps", "points", str(m["id"]), "-c", "t", "--limit", "100", "--json").json()["data"]
        if p["id"] == "A0"
    )
    assert (stored["x"], stored["y"]) == pytest.approx((a0["x"], a0["y"]), abs=1e-4)
    placed = latent("maps", "project", str(m["id"]), "-c", "t", "--text", "apple pear", "--text", "piano", "--json")
    assert placed.code == 0 and len(placed.json()["points"]) == 2


def test_bad_input_gives_clear_exit_codes(latent: Latent) -> None:
    def fails(result: CliResult, code: int, words: str) -> None:
        assert result.code == code and words in result.err, (result.code, result.err)

    fails(latent("maps", "get", "999", "-c", "t"), 1, "999")
    fails(latent("clusterings", "get", "999", "-c", "t"), 1, "999")
    fails(latent("maps", "list", "-c", "nope"), 1, "nope")
    fails(latent("maps", "project", "1", "-c", "t"), 2, "--text")
    fails(latent("maps", "points", "1", "-c", "t", "--bbox", "1,2"), 2, "bbox")
