"""Service start-up stores the bootstrap admin key (however uvicorn was started), and only once."""

from __future__ import annotations

import secrets
from pathlib import Path

from fastapi.testclient import TestClient

from latent.auth import ApiKeys
from latent.config import get_settings
from latent.store.store import Store
from service.main import create_app


def test_the_app_stores_the_bootstrap_key_on_start(tmp_path: Path) -> None:
    key = f"lk_{secrets.token_hex(6)}_{secrets.token_hex(24)}"
    secret = tmp_path / "latent_admin_key"
    secret.write_text(key)
    settings = get_settings(home=tmp_path / "home", model="fake", admin_key_file=secret)
    for restart in range(2):  # a restart finds the key stored and stores nothing more
        with TestClient(create_app(settings)) as client:
            assert client.get("/v1/collections").status_code == 401
            auth = {"X-API-Key": key}
            if restart == 0:
                assert client.post("/v1/collections", json={"name": "c"}, headers=auth).status_code == 201
            assert client.get("/v1/collections", headers=auth).json()["count"] == 1
            assert client.get("/metrics", headers=auth).status_code == 200
    with TestClient(create_app(get_settings(home=tmp_path / "home", model="fake"))) as client:
        assert client.get("/v1/collections", headers={"X-API-Key": key}).status_code == 200  # stored, not per-process
    with Store(get_settings(home=tmp_path / "home", model="fake")) as store:
        assert [(k.name, k.scope) for k in ApiKeys(store.sessions).list()] == [("bootstrap", "admin")]
