"""`latent train-vae` and `latent vae …` mounted as the main CLI mounts them, on a fake-encoder home."""

from __future__ import annotations

import json

import pytest
import typer
from click.testing import Result
from helpers.topics import topic_docs
from typer.testing import CliRunner

from indexer import cli_vae
from latent.config import get_settings
from latent.records import DocumentInput
from latent.store.store import Store

TINY = '{"batch_size": 8, "kl_warmup_epochs": 5, "prior": "gaussian", "hidden_dim": 32}'


def make_app() -> typer.Typer:
    app = typer.Typer()

    @app.callback()
    def main() -> None:
        """Test group."""

    app.command("train-vae")(cli_vae.train_vae)
    app.add_typer(cli_vae.app, name="vae")
    return app


def run(env: dict[str, str], *args: str) -> Result:
    return CliRunner().invoke(make_app(), list(args), env=env)


@pytest.fixture(scope="module")
def env(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    home = tmp_path_factory.mktemp("cli-vae")
    with Store(get_settings(home=home, model="fake")) as store:
        store.create_collection("t").upsert(
            [DocumentInput(id=d["id"], text=d["text"], title=d["title"], metadata=d["metadata"]) for d in topic_docs()]
        )
    return {"LATENT_HOME": str(home), "LATENT_MODEL": "fake"}


@pytest.fixture(scope="module")
def trained(env: dict[str, str]) -> dict:
    before = run(env, "vae", "sample", "-c", "t", "-n", "2")
    assert before.exit_code == 1 and "latent train-vae" in before.stderr
    result = run(
        env,
        "train-vae",
        "-c",
        "t",
        "--latent-dim",
        "4",
        "--epochs",
        "30",
        "--seed",
        "1",
        "--params",
        TINY,
        "--json",
    )
    assert result.exit_code == 0, result.output
    assert "epoch 30/30" in result.stderr  # progress goes to stderr, the result to stdout
    return json.loads(result.stdout)


def test_train_vae_prints_the_model_and_its_metrics(trained: dict) -> None:
    assert trained["model_id"] >= 1
    assert trained["params"]["latent_dim"] == 4 and trained["params"]["epochs"] == 30
    assert trained["metrics"]["val_recon_cosine"] > 0.5


def test_sample_is_reproducible_and_grounded(env: dict[str, str], trained: dict) -> None:
    a = run(env, "vae", "sample", "-c", "t", "-n", "3", "--seed", "4", "--json")
    b = run(env, "vae", "sample", "-c", "t", "-n", "3", "--seed", "4", "--json")
    assert a.exit_code == 0, a.output
    assert json.loads(a.stdout) == json.loads(b.stdout)
    body = json.loads(a.stdout)
    assert len(body["samples"]) == 3 and body["samples"][0]["neighbors"]
    table = run(env, "vae", "sample", "-c", "t", "-n", "2", "--seed", "4")
    assert table.exit_code == 0 and "diversity" in table.stdout


def test_interpolate_and_bridge_start_and_end_at_their_endpoints(env: dict[str, str], trained: dict) -> None:
    r = run(env, "vae", "interpolate", "-c", "t", "--start", "A0", "--end", "C1", "--steps", "3", "--json")
    assert r.exit_code == 0, r.output
    steps = json.loads(r.stdout)["steps"]
    assert [s["t"] for s in steps] == [0.0, 0.5, 1.0]
    assert steps[0]["neighbors"][0]["id"] == "A0" and steps[-1]["neighbors"][0]["id"] == "C1"
    r = run(env, "vae", "bridge", "-c", "t", "--start", "A0", "--end", "C1", "-k", "4", "--json")
    assert r.exit_code == 0, r.output
    path = json.loads(r.stdout)["path"]
    assert path[0]["id"] == "A0" and path[-1]["id"] == "C1"
    table = run(env, "vae", "bridge", "-c", "t", "--start", "A0", "--end", "C1")
    assert table.exit_code == 0 and "A0" in table.stdout


@pytest.mark.parametrize(
    ("args", "code", "message"),
    [
        (("vae", "interpolate", "-c", "t", "--start", "A0", "--end", "nope"), 1, "nope"),
        (("vae", "interpolate", "-c", "t", "--start", "A0", "--end", "C1", "--steps", "0"), 2, "steps"),
        (("vae", "interpolate", "-c", "t", "--start", "A0"), 2, "--end"),
        (("vae", "sample", "-c", "missing"), 1, "missing"),
        (("train-vae", "-c", "t", "--latent-dim", "0"), 2, "latent_dim"),
        (("train-vae", "-c", "t", "--params", "{bad"), 2, "JSON"),
    ],
)
def test_bad_input_exits_with_a_message(
    env: dict[str, str], trained: dict, args: tuple[str, ...], code: int, message: str
) -> None:
    result = run(env, *args)
    assert result.exit_code == code, result.output
    assert message in result.stderr


def test_list_encode_decode_round_trip(env: dict[str, str], trained: dict) -> None:
    listed = run(env, "vae", "list", "-c", "t", "--json")
    assert listed.exit_code == 0, listed.output
    assert [m["id"] for m in json.loads(listed.stdout)] == [trained["model_id"]]
    encoded = run(env, "vae", "encode", "-c", "t", "--id", "A0", "--id", "C1", "--json")
    assert encoded.exit_code == 0, encoded.output
    body = json.loads(encoded.stdout)
    assert len(body["mu"]) == 2 and len(body["mu"][0]) == 4 and all(s > 0 for s in body["sigma"][0])
    texts = json.loads(run(env, "vae", "encode", "-c", "t", "--text", "apple pear", "--json").stdout)
    assert len(texts["mu"][0]) == 4
    decoded = run(env, "vae", "decode", "-c", "t", "--z", json.dumps(body["mu"]), "--json")
    assert decoded.exit_code == 0, decoded.output
    vectors = json.loads(decoded.stdout)["vectors"]
    assert len(vectors) == 2 and abs(sum(v * v for v in vectors[0]) - 1.0) < 1e-4
    back = run(env, "vae", "sample", "-c", "t", "--anchor", "A0", "--temperature", "0", "-n", "1", "--json")
    assert json.loads(back.stdout)["samples"][0]["neighbors"][0]["id"] == "A0"


def test_arithmetic_is_grounded(env: dict[str, str], trained: dict) -> None:
    r = run(env, "vae", "arithmetic", "-c", "t", "--plus", "A0", "--minus", "A1", "--plus", "C1", "--json")
    assert r.exit_code == 0, r.output
    point = json.loads(r.stdout)
    assert point["neighbors"] and "novelty" in point
    towards = run(env, "vae", "arithmetic", "-c", "t", "--plus", "A0", "--plus-filter", '{"topic": "C"}', "--json")
    assert towards.exit_code == 0, towards.output
    table = run(env, "vae", "arithmetic", "-c", "t", "--plus-text", "piano violin")
    assert table.exit_code == 0 and "novelty" in table.stdout


@pytest.mark.parametrize(
    ("args", "code", "message"),
    [
        (("vae", "encode", "-c", "t"), 2, "--text"),
        (("vae", "encode", "-c", "t", "--id", "nope"), 1, "nope"),
        (("vae", "decode", "-c", "t", "--z", "[[1, 2]]"), 2, ""),
        (("vae", "decode", "-c", "t", "--z", "[["), 2, "JSON"),
        (("vae", "arithmetic", "-c", "t"), 2, "term"),
        (("vae", "list", "-c", "missing"), 1, "missing"),
    ],
)
def test_new_vae_commands_refuse_bad_input(
    env: dict[str, str], trained: dict, args: tuple[str, ...], code: int, message: str
) -> None:
    result = run(env, *args)
    assert result.exit_code == code, result.output
    assert message in result.stderr
