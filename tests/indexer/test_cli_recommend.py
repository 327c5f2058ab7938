"""`latent recommend` in a Typer app of its own, against a temporary home with the fake encoder."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import typer
from click.testing import Result
from helpers.topics import PER_TOPIC, topic, topic_docs
from typer.testing import CliRunner

from indexer.cli_recommend import recommend
from latent.config import get_settings
from latent.records import DocumentInput
from latent.store.store import Store


def make_app() -> typer.Typer:
    """The command mounted as the main CLI mounts it: a group with a callback, `recommend` a subcommand."""
    app = typer.Typer()

    @app.callback()
    def main() -> None:
        """Test group."""

    app.command("recommend")(recommend)
    return app


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    with Store(get_settings(home=tmp_path, model="fake")) as store:
        collection = store.create_collection("rec")
        collection.upsert(
            [DocumentInput(id=d["id"], text=d["text"], title=d["title"], metadata=d["metadata"]) for d in topic_docs()]
        )
    return {"LATENT_HOME": str(tmp_path), "LATENT_MODEL": "fake"}


def run(env: dict[str, str], *args: str) -> Result:
    return CliRunner().invoke(make_app(), ["recommend", "--collection", "rec", *args], env=env)


@pytest.mark.parametrize("strategy", ["average_vector", "best_score", "sum_scores"])
def test_json_ranks_positive_topic_first_negative_last(env: dict[str, str], strategy: str) -> None:
    result = run(env, "-p", "A0", "-p", "A1", "-n", "B0", "--strategy", strategy, "-k", "100", "--json")
    assert result.exit_code == 0, result.output
    body = json.loads(result.stdout)
    topics = [topic(h["id"]) for h in body["hits"]]
    assert len(topics) == 3 * PER_TOPIC - 3
    assert topics[: PER_TOPIC - 2] == ["A"] * (PER_TOPIC - 2) and topics[-(PER_TOPIC - 1) :] == ["B"] * (PER_TOPIC - 1)
    assert body["hits"][0]["explanation"]["positive"][0]["example"] in {"A0", "A1"}
    assert body["strategy"] == strategy and body["missing"] == []


def test_table_texts_filter_and_missing(env: dict[str, str]) -> None:
    table = run(env, "--positive-text", "violin cello", "-k", "3")
    assert table.exit_code == 0 and "rank" in table.stdout and "C" in table.stdout
    filtered = json.loads(run(env, "-p", "A0", "--filter", '{"topic": "B"}', "-k", "100", "--json").stdout)
    assert {topic(h["id"]) for h in filtered["hits"]} == {"B"}
    ignored = run(env, "-p", "A0", "-p", "nope", "--ignore-missing", "--json", "-k", "2")
    assert ignored.exit_code == 0 and json.loads(ignored.stdout)["missing"] == ["nope"]


def test_exit_codes(env: dict[str, str]) -> None:
    missing = run(env, "-p", "nope")
    assert missing.exit_code == 1 and "nope" in missing.output and "not found" in missing.output
    assert run(env, "-p", "A0", "--strategy", "guess").exit_code == 2
    assert run(env, "-p", "A0", "-k", "0").exit_code == 2
    assert run(env).exit_code == 2  # no examples
    assert run(env, "-p", "A0", "--filter", "{").exit_code == 2
    no_collection = CliRunner().invoke(make_app(), ["recommend", "-c", "none", "-p", "A0"], env=env)
    assert no_collection.exit_code == 1 and "does not exist" in no_collection.output
