"""`latent cluster` and `latent map` in a Typer app of their own, against a temporary home with the fake encoder."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import typer
from click.testing import Result
from helpers.topics import PER_TOPIC, topic_docs
from sklearn.metrics import adjusted_rand_score
from typer.testing import CliRunner

from indexer.cli_analysis import cluster
from indexer.cli_analysis import map as map_command
from latent.clustering.runs import cluster_documents
from latent.config import get_settings
from latent.records import DocumentInput
from latent.store.store import Store


def make_app() -> typer.Typer:
    app = typer.Typer()

    @app.callback()
    def main() -> None:
        """Test group."""

    app.command("cluster")(cluster)
    app.command("map")(map_command)
    return app


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    with Store(get_settings(home=tmp_path, model="fake")) as store:
        store.create_collection("topics").upsert(
            [DocumentInput(id=d["id"], text=d["text"], title=d["title"]) for d in topic_docs()]
        )
        store.create_collection("tiny").upsert([DocumentInput(id=f"t{i}", text=f"apple {i}") for i in range(3)])
    return {"LATENT_HOME": str(tmp_path), "LATENT_MODEL": "fake"}


def test_cluster_json_recovers_topics(env: dict[str, str], tmp_path: Path) -> None:
    result = CliRunner().invoke(make_app(), ["cluster", "-c", "topics", "-k", "3", "--json", "-q"], env=env)
    assert result.exit_code == 0, result.output
    body = json.loads(result.stdout)
    assert body["algorithm"] == "kmeans" and len(body["clusters"]) == 3
    assert sum(c["size"] for c in body["clusters"]) == 3 * PER_TOPIC
    with Store(get_settings(home=tmp_path, model="fake")) as store:
        collection = store.collection("topics")
        truth, found = [], []
        for c in body["clusters"]:
            docs, _ = cluster_documents(collection, body["id"], c["id"], limit=100)
            truth += [d.id[0] for d in docs]
            found += [c["id"]] * len(docs)
    assert adjusted_rand_score(truth, found) >= 0.8


def test_cluster_table_and_bad_options(env: dict[str, str]) -> None:
    runner = CliRunner()
    table = runner.invoke(make_app(), ["cluster", "-c", "topics", "-k", "3", "-q"], env=env)
    assert table.exit_code == 0 and "3 clusters" in table.stdout
    assert runner.invoke(make_app(), ["cluster", "-c", "topics", "-k", "99", "-q"], env=env).exit_code == 2
    assert runner.invoke(make_app(), ["cluster", "-c", "topics", "--algorithm", "x"], env=env).exit_code == 2
    assert runner.invoke(make_app(), ["cluster", "-c", "missing", "-q"], env=env).exit_code == 1
    assert runner.invoke(make_app(), ["map", "-c", "tiny", "-q"], env=env).exit_code == 2
    assert runner.invoke(make_app(), ["map", "-c", "topics", "--place", "-q"], env=env).exit_code == 2


def test_indexing_places_new_documents_on_the_newest_map(env: dict[str, str], tmp_path: Path) -> None:
    """The indexer is a writer: what it indexes is on the newest map when it returns (no read places it)."""
    from indexer.pipeline import index_documents
    from latent.maps.runs import latest_map_id, map_points

    result = CliRunner().invoke(make_app(), ["map", "-c", "topics", "--json", "-q"], env=env)
    assert result.exit_code == 0, result.output
    with Store(get_settings(home=tmp_path, model="fake")) as store:
        items = [DocumentInput(id="A-new", title="fruit", text="apple banana cherry grape mango melon")]
        assert index_documents(store, "topics", iter(items), progress=False).indexed == 1
        collection = store.collection("topics")
        points, _ = map_points(collection, latest_map_id(collection), limit=1000)
    assert "A-new" in {p.id for p in points}


def test_if_missing_fits_once_then_keeps_the_newest(env: dict[str, str]) -> None:
    def invoke(*args: str) -> Result:
        return CliRunner().invoke(make_app(), [*args, "-c", "topics", "--if-missing", "--json", "-q"], env=env)

    first, second = invoke("cluster", "-k", "3"), invoke("cluster", "-k", "3")
    assert first.exit_code == 0 and second.exit_code == 0, first.output + second.output
    assert json.loads(first.stdout)["id"] == json.loads(second.stdout)["id"]
    assert "not refitting" in second.stderr and "not refitting" not in first.stderr
    fitted, kept = invoke("map", "--n-neighbors", "5"), invoke("map", "--n-neighbors", "5")
    assert fitted.exit_code == 0 and kept.exit_code == 0, fitted.output + kept.output
    assert json.loads(fitted.stdout)["id"] == json.loads(kept.stdout)["id"]
    assert json.loads(kept.stdout)["clustering_id"] == json.loads(first.stdout)["id"]
    assert "not refitting" in kept.stderr
