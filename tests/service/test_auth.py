"""API keys over HTTP: open without keys; once a key exists, 401 without one and 403 when its scope is low."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from fastapi.testclient import TestClient
from latent_client import LatentClient, LatentHTTPError

from latent.auth import ApiKeys
from service.main import create_app


@pytest.fixture
def keys(client: TestClient) -> dict[str, str]:
    """One key per scope, created through the app's own ApiKeys (which drops its cached open/closed state)."""
    client.post("/v1/collections", json={"name": "papers"})
    api_keys: ApiKeys = client.app.state.keys  # type: ignore[attr-defined]
    return {scope: api_keys.create(scope, f"{scope} test").key for scope in ("read", "write", "admin")}


def bearer(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


def test_open_without_keys(client: TestClient) -> None:
    assert client.post("/v1/collections", json={"name": "open"}).status_code == 201
    assert client.delete("/v1/collections/open").status_code == 204


def test_startup_warns_when_open(settings, caplog: pytest.LogCaptureFixture) -> None:  # noqa: ANN001
    with caplog.at_level("WARNING", logger="latent.service"), TestClient(create_app(settings)):
        pass
    assert any("127.0.0.1" in r.getMessage() and "no API key" in r.getMessage() for r in caplog.records)


def test_key_required_once_one_exists(client: TestClient, keys: dict, expect_error: Callable[..., dict]) -> None:
    response = client.get("/v1/collections")
    expect_error(response, 401, "missing_api_key")
    assert response.headers["www-authenticate"] == "Bearer"
    expect_error(client.get("/v1/collections", headers=bearer("lk_000000000000_wrong")), 401, "invalid_api_key")
    expect_error(client.get("/v1/collections", headers=bearer("garbage")), 401, "invalid_api_key")
    expect_error(client.get("/metrics"), 401, "missing_api_key")
    assert client.get("/healthz").status_code == 200
    assert client.get("/readyz").status_code == 200


def test_bearer_and_header(client: TestClient, keys: dict) -> None:
    assert client.get("/v1/collections", headers=bearer(keys["read"])).status_code == 200
    assert client.get("/v1/collections", headers={"X-API-Key": keys["read"]}).status_code == 200
    assert client.get("/metrics", headers=bearer(keys["read"])).status_code == 200


def test_scopes(client: TestClient, keys: dict, expect_error: Callable[..., dict]) -> None:
    docs = {"documents": [{"id": "a", "text": "hello"}]}
    read, write, admin = (bearer(keys[s]) for s in ("read", "write", "admin"))
    error = expect_error(
        client.put("/v1/collections/papers/documents", json=docs, headers=read), 403, "insufficient_scope"
    )
    assert error["details"] == {"scope": "read", "required": "write"}
    assert client.post("/v1/collections/papers/search", json={"query": "hello"}, headers=read).status_code == 200
    assert client.post("/v1/embed", json={"texts": ["x"]}, headers=read).status_code == 200
    assert client.put("/v1/collections/papers/documents", json=docs, headers=write).status_code == 200
    assert client.post("/v1/collections", json={"name": "second"}, headers=write).status_code == 201
    expect_error(client.delete("/v1/collections/second", headers=write), 403, "insufficient_scope")
    assert client.delete("/v1/collections/second", headers=admin).status_code == 204
    assert client.get("/v1/collections/papers/documents/a", headers=admin).status_code == 200


def test_revoked_key_is_refused(client: TestClient, keys: dict, expect_error: Callable[..., dict]) -> None:
    ApiKeys(client.app.state.store.sessions).revoke(keys["read"])  # type: ignore[attr-defined]  (as the CLI does)
    expect_error(client.get("/v1/collections", headers=bearer(keys["read"])), 401, "invalid_api_key")
    assert client.get("/v1/collections", headers=bearer(keys["admin"])).status_code == 200


def test_typed_client_sends_key(client: TestClient, keys: dict) -> None:
    assert LatentClient(http=client, api_key=keys["read"]).list_collections().count == 1
    with pytest.raises(LatentHTTPError) as info:
        LatentClient(http=client).list_collections()
    assert info.value.status == 401 and info.value.code == "missing_api_key"


def test_key_created_elsewhere_is_enforced(make_settings: Callable, expect_error: Callable[..., dict]) -> None:
    """A key made by `latent keys create` in another process closes the server once its cache expires."""
    with TestClient(create_app(make_settings(auth_cache_seconds=0))) as client:
        assert client.get("/v1/collections").status_code == 200
        key = ApiKeys(client.app.state.store.sessions).create("read").key  # type: ignore[attr-defined]
        expect_error(client.get("/v1/collections"), 401, "missing_api_key")
        assert client.get("/v1/collections", headers=bearer(key)).status_code == 200
