"""Deployment start-up: the bootstrap admin key is stored once, hashed, and only a key or an opt-in opens 0.0.0.0."""

from __future__ import annotations

import secrets
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import select

from latent.auth import ApiKeys
from latent.bootstrap import bootstrap_admin_key, check_bind, configured_admin_key, migrate_database
from latent.config import Settings, get_settings
from latent.errors import Conflict, InvalidInput
from latent.store.auth_models import ApiKeyRow
from latent.store.store import Store


def new_key() -> str:
    """A key made outside Latent, the way the README's openssl line makes one."""
    return f"lk_{secrets.token_hex(6)}_{secrets.token_hex(24)}"


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    with Store(get_settings(home=tmp_path / "home", model="fake")) as opened:
        yield opened


def rows(store: Store) -> list[ApiKeyRow]:
    with store.sessions() as s:
        return list(s.scalars(select(ApiKeyRow)).all())


def test_the_key_is_stored_once_hashed_as_admin(store: Store, make_settings) -> None:
    key = new_key()
    settings = make_settings(admin_key=key)
    first = bootstrap_admin_key(settings, store.sessions)
    again = bootstrap_admin_key(settings, store.sessions)  # a restart
    assert first is not None and again is not None and first.id == again.id
    [row] = rows(store)
    assert row.scope == "admin" and row.name == "bootstrap" and key.split("_", 2)[2] not in (row.key_hash, row.salt)
    assert ApiKeys(store.sessions).verify(key) == "admin"


def test_the_key_file_wins_and_must_agree_with_the_environment(tmp_path: Path, make_settings) -> None:
    key = new_key()
    secret_file = tmp_path / "latent_admin_key"
    secret_file.write_text(key + "\n")  # `echo` adds a newline
    assert configured_admin_key(make_settings(admin_key_file=secret_file)) == key
    assert configured_admin_key(make_settings(admin_key_file=secret_file, admin_key=key)) == key
    assert configured_admin_key(make_settings()) is None and configured_admin_key(make_settings(admin_key="")) is None
    for bad in (
        make_settings(admin_key_file=secret_file, admin_key=new_key()),
        make_settings(admin_key_file=tmp_path / "missing"),
        make_settings(admin_key_file=tmp_path),
    ):
        with pytest.raises(InvalidInput) as err:
            configured_admin_key(bad)
        assert err.value.code == "invalid_admin_key"


@pytest.mark.parametrize("bad", ["short", "x" * 40, "lk_0123456789ab_tooshort", "lk_0123456789AB_" + "a" * 40])
def test_a_malformed_key_is_refused_with_the_recipe(store: Store, make_settings, bad: str) -> None:
    with pytest.raises(InvalidInput) as err:
        bootstrap_admin_key(make_settings(admin_key=bad), store.sessions)
    assert err.value.code == "invalid_api_key_format" and "openssl rand" in err.value.message
    assert rows(store) == []


def test_a_revoked_bootstrap_key_stays_revoked(store: Store, make_settings) -> None:
    settings = make_settings(admin_key=new_key())
    info = bootstrap_admin_key(settings, store.sessions)
    assert info is not None
    ApiKeys(store.sessions).revoke(info.id)
    again = bootstrap_admin_key(settings, store.sessions)
    assert again is not None and not again.active and len(rows(store)) == 1


def test_a_taken_prefix_with_another_secret_is_a_conflict(store: Store, make_settings) -> None:
    key = new_key()
    bootstrap_admin_key(make_settings(admin_key=key), store.sessions)
    impostor = key[: len("lk_") + 13] + secrets.token_hex(24)
    with pytest.raises(Conflict):
        bootstrap_admin_key(make_settings(admin_key=impostor), store.sessions)


def test_public_bind_needs_a_key_or_the_opt_in(store: Store, make_settings) -> None:
    keys = ApiKeys(store.sessions)
    assert check_bind(make_settings(host="127.0.0.1"), keys) is None
    with pytest.raises(InvalidInput, match="refusing to bind 0.0.0.0 with no API key") as err:
        check_bind(make_settings(host="0.0.0.0"), keys)
    assert err.value.code == "no_api_key"
    warning = check_bind(make_settings(host="0.0.0.0", allow_no_auth=True), keys)
    assert warning is not None and "EVERY request" in warning
    bootstrap_admin_key(make_settings(admin_key=new_key()), store.sessions)
    assert check_bind(make_settings(host="0.0.0.0"), keys) is None  # a key exists: nothing to warn about


def test_migrate_database_reports_the_revision(make_settings) -> None:
    settings: Settings = make_settings()
    first = migrate_database(settings)
    assert first.previous is None and first.revision == first.head and first.upgraded
    second = migrate_database(settings)
    assert second.previous == second.revision == first.head and not second.upgraded


@pytest.mark.postgres
def test_replicas_starting_at_once_store_one_key(postgres_url: str, tmp_path: Path) -> None:
    """Eight processes' worth of start-ups race on a fresh PostgreSQL database: one row, one id for all."""
    key = new_key()
    settings = get_settings(home=tmp_path, model="fake", database_url=postgres_url, admin_key=key)
    migrate_database(settings)
    stores = [Store(settings) for _ in range(8)]  # one engine each, like separate replicas
    barrier = threading.Barrier(len(stores))
    ids: list[int] = []
    errors: list[BaseException] = []

    def start(store: Store) -> None:
        barrier.wait()
        try:
            info = bootstrap_admin_key(settings, store.sessions)
            assert info is not None
            ids.append(info.id)
        except BaseException as exc:  # reported below, with the others
            errors.append(exc)

    threads = [threading.Thread(target=start, args=(s,)) for s in stores]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    try:
        assert errors == [] and len(ids) == len(stores) and len(set(ids)) == 1
        assert len(rows(stores[0])) == 1 and ApiKeys(stores[0].sessions).verify(key) == "admin"
    finally:
        for s in stores:
            s.close()
