"""`latent serve` and `latent migrate`: a public address needs a key (a bootstrap one will do) or the explicit
opt-in; migrate upgrades the configured database to head and says which revision it is at."""

from __future__ import annotations

import secrets
from pathlib import Path

import httpx
import pytest
from helpers.cli import invoke, popen, run
from helpers.server import free_port
from helpers.service_process import stop, wait_ready


def test_a_fresh_home_refuses_0000(tmp_path: Path) -> None:
    done = run(tmp_path, "serve", "--host", "0.0.0.0", "--port", str(free_port()))
    assert done.returncode == 2
    assert "refusing to bind 0.0.0.0 with no API key" in done.stderr and "LATENT_ADMIN_KEY_FILE" in done.stderr


def test_a_bootstrap_key_from_a_secret_file_opens_0000(tmp_path: Path) -> None:
    key = f"lk_{secrets.token_hex(6)}_{secrets.token_hex(24)}"
    secret = tmp_path / "latent_admin_key"
    secret.write_text(key + "\n")
    port = free_port()
    server = popen(
        tmp_path / "home", "serve", "--host", "0.0.0.0", "--port", str(port), LATENT_ADMIN_KEY_FILE=str(secret)
    )
    try:
        base = f"http://127.0.0.1:{port}"
        assert wait_ready(server, base)["status"] == "ready"
        assert httpx.get(f"{base}/v1/collections").status_code == 401
        assert httpx.get(f"{base}/v1/collections", headers={"X-API-Key": key}).json() == {"data": [], "count": 0}
        created = httpx.post(f"{base}/v1/collections", json={"name": "c"}, headers={"Authorization": f"Bearer {key}"})
        assert created.status_code in (200, 201), created.text  # admin scope: writes allowed
    finally:
        stop(server)
    listed = run(tmp_path / "home", "keys", "list", "--json")
    assert '"scope": "admin"' in listed.stdout and '"name": "bootstrap"' in listed.stdout and key not in listed.stdout


def test_a_malformed_bootstrap_key_stops_the_start(tmp_path: Path) -> None:
    done = run(tmp_path, "serve", "--host", "0.0.0.0", "--port", str(free_port()), LATENT_ADMIN_KEY="password123")
    assert done.returncode == 2 and "openssl rand" in done.stderr


def test_allow_no_auth_starts_keyless_and_says_so_loudly(tmp_path: Path) -> None:
    port = free_port()
    server = popen(tmp_path, "serve", "--host", "0.0.0.0", "--port", str(port), "--allow-no-auth")
    try:
        wait_ready(server, f"http://127.0.0.1:{port}")
        assert httpx.get(f"http://127.0.0.1:{port}/v1/collections").status_code == 200  # keyless, as asked
    finally:
        err = stop(server)
    assert err.count("accepts EVERY request") >= 2  # the CLI's line and the app's log line


def test_migrate_a_fresh_home_then_again(tmp_path: Path, capsys, monkeypatch) -> None:
    monkeypatch.setenv("LATENT_MODEL", "fake")
    home = tmp_path / "home"
    first = invoke(capsys, monkeypatch, "--home", home, "migrate", "--json")
    assert first.code == 0, first.err
    data = first.json()
    assert data["previous"] is None and data["revision"] == data["head"] and data["upgraded"] is True
    assert data["database"].endswith("latent.db") and (home / "latent.db").is_file()
    again = invoke(capsys, monkeypatch, "--home", home, "migrate")
    assert again.code == 0 and f"schema at revision {data['head']} (already current)" in again.out


@pytest.mark.postgres
def test_migrate_postgres_hides_the_password(postgres_url: str, tmp_path: Path) -> None:
    url_with_password = postgres_url.replace("postgres@", "postgres:s3cret@")  # trust auth ignores it
    done = run(tmp_path, "migrate", "--json", LATENT_DATABASE_URL=url_with_password)
    assert done.returncode == 0, done.stderr
    assert "s3cret" not in done.stdout and '"upgraded": true' in done.stdout


def test_bad_and_unreachable_databases_exit_with_meaning(tmp_path: Path) -> None:
    bad = run(tmp_path, "migrate", LATENT_DATABASE_URL="nosuchdb://x")
    assert bad.returncode == 2 and "invalid database URL" in bad.stderr
    unreachable = run(tmp_path, "migrate", LATENT_DATABASE_URL="postgresql+psycopg://u:p@127.0.0.1:9/none")
    assert unreachable.returncode == 1 and "cannot reach the database" in unreachable.stderr
    assert "Traceback" not in unreachable.stderr
