"""`latent keys create | list | revoke` against a temporary data home."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from indexer.cli_keys import app
from latent.auth import ApiKeys
from latent.config import get_settings
from latent.store.store import Store


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    return {"LATENT_HOME": str(tmp_path), "LATENT_MODEL": "fake"}


def test_create_list_revoke(env: dict[str, str], tmp_path: Path) -> None:
    runner = CliRunner()
    created = runner.invoke(app, ["create", "--scope", "write", "--name", "ci", "--json"], env=env)
    assert created.exit_code == 0, created.output
    record = json.loads(created.stdout)
    assert record["scope"] == "write" and record["key"].startswith("lk_")
    with Store(get_settings(home=tmp_path, model="fake")) as store:
        assert ApiKeys(store.sessions).verify(record["key"]) == "write"

    listed = runner.invoke(app, ["list", "--json"], env=env)
    assert [k["prefix"] for k in json.loads(listed.stdout)] == [record["prefix"]]
    assert record["key"] not in listed.stdout

    revoked = runner.invoke(app, ["revoke", str(record["id"])], env=env)
    assert revoked.exit_code == 0 and "revoked" in revoked.stdout
    assert json.loads(runner.invoke(app, ["list", "--json"], env=env).stdout) == []
    assert len(json.loads(runner.invoke(app, ["list", "--json", "--all"], env=env).stdout)) == 1


def test_plain_create_prints_only_the_key_on_stdout(env: dict[str, str]) -> None:
    result = CliRunner().invoke(app, ["create", "--scope", "read"], env=env)
    assert result.exit_code == 0 and result.stdout.strip().startswith("lk_") and len(result.stdout.split()) == 1


def test_invalid_input_exits_2_and_not_found_exits_1(env: dict[str, str]) -> None:
    """The CLI's one mapping (indexer/cli_common.exit_code_for): usage errors 2, failed jobs 1."""
    runner = CliRunner()
    bad_scope = runner.invoke(app, ["create", "--scope", "root"], env=env)
    assert bad_scope.exit_code == 2 and "unknown scope" in bad_scope.output
    missing = runner.invoke(app, ["revoke", "12345"], env=env)
    assert missing.exit_code == 1 and "no API key" in missing.output
