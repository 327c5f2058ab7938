"""API keys core: shown once, stored hashed, scoped read < write < admin, revocable."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import select

from latent.auth import ApiKeys, scope_allows
from latent.config import get_settings
from latent.errors import Forbidden, InvalidInput, NotFound, Unauthorized
from latent.store.auth_models import ApiKeyRow
from latent.store.store import Store


@pytest.fixture
def keys(tmp_path: Path) -> Iterator[ApiKeys]:
    with Store(get_settings(home=tmp_path, model="fake")) as store:
        yield ApiKeys(store.sessions)


def test_create_verify_and_stored_hashed(keys: ApiKeys) -> None:
    created = keys.create("write", "ci")
    assert created.key.startswith("lk_") and created.info.scope == "write" and created.info.name == "ci"
    assert keys.verify(created.key) == "write"
    with keys.sessions() as s:
        row = s.scalar(select(ApiKeyRow))
    secret = created.key.split("_", 2)[2]
    assert secret not in (row.key_hash, row.salt, row.prefix) and len(row.key_hash) == 64
    other = keys.create("write")
    with keys.sessions() as s:
        salts = s.scalars(select(ApiKeyRow.salt)).all()
    assert len(set(salts)) == 2 and other.key != created.key


def test_wrong_keys_are_unauthorized(keys: ApiKeys) -> None:
    created = keys.create("read")
    tampered = created.key[:-1] + ("A" if created.key[-1] != "A" else "B")
    for bad in (tampered, "lk_short", "", "Bearer x", created.key + "x"):
        with pytest.raises(Unauthorized):
            keys.verify(bad)


def test_scopes_are_ordered() -> None:
    assert scope_allows("admin", "write") and scope_allows("write", "read") and scope_allows("read", "read")
    assert not scope_allows("read", "write") and not scope_allows("write", "admin")
    with pytest.raises(InvalidInput):
        scope_allows("read", "root")


def test_authorize_open_until_a_key_exists(keys: ApiKeys) -> None:
    assert keys.authorize(None, "admin") is None and keys.authorize("anything", "admin") is None
    created = keys.create("read")
    with pytest.raises(Unauthorized):
        keys.authorize(None, "read")
    assert keys.authorize(created.key, "read") == "read"
    with pytest.raises(Forbidden):
        keys.authorize(created.key, "write")


def test_revoke_by_id_prefix_or_key(keys: ApiKeys) -> None:
    a, b, c = keys.create("read"), keys.create("read"), keys.create("admin")
    keys.revoke(a.info.id)
    keys.revoke(b.info.prefix)
    first = keys.revoke(c.key)
    assert keys.revoke(c.key).revoked_at == first.revoked_at  # revoking twice keeps the first time
    for created in (a, b, c):
        with pytest.raises(Unauthorized):
            keys.verify(created.key)
    assert not keys.active() and keys.list(include_revoked=False) == [] and len(keys.list()) == 3
    with pytest.raises(NotFound):
        keys.revoke("999")


def test_invalid_scope(keys: ApiKeys) -> None:
    with pytest.raises(InvalidInput) as info:
        keys.create("superuser")
    assert info.value.code == "invalid_scope"


def test_revoke_a_key_whose_prefix_is_all_digits(keys: ApiKeys, monkeypatch: pytest.MonkeyPatch) -> None:
    """A hex prefix can be all decimal digits (about 1 key in 290): it is still found, by key or by prefix."""
    import latent.auth as auth

    digits = iter(["478347275578", "000000000001"])
    monkeypatch.setattr(auth.secrets, "token_hex", lambda n: next(digits) if n == 6 else "ab" * n)
    by_key, by_prefix = keys.create("read"), keys.create("read")
    assert keys.revoke(by_key.key).id == by_key.info.id
    assert keys.revoke(by_prefix.info.prefix).id == by_prefix.info.id  # "000000000001" is no key's id
