"""Rate limiting: a client over its budget gets 429 in the error envelope, others are unaffected."""

from __future__ import annotations

from fastapi.testclient import TestClient

from latent.config import get_settings
from service.main import create_app


def test_burst_then_429_with_retry_after(tmp_path) -> None:
    settings = get_settings(home=tmp_path, model="fake", rate_limit_per_second=0.5, rate_limit_burst=3)
    with TestClient(create_app(settings)) as client:
        statuses = [client.get("/v1/collections").status_code for _ in range(5)]
        assert statuses[:3] == [200, 200, 200]
        assert statuses[3:] == [429, 429]
        limited = client.get("/v1/collections")
        body = limited.json()
        assert body["error"]["code"] == "rate_limited"
        assert body["error"]["details"]["burst"] == 3
        assert int(limited.headers["retry-after"]) >= 1
        assert client.get("/healthz").status_code == 200  # liveness is never limited
        other = client.get("/v1/collections", headers={"X-API-Key": "someone-else"})
        assert other.status_code != 429  # a different client has its own bucket


def test_off_by_default(tmp_path) -> None:
    with TestClient(create_app(get_settings(home=tmp_path, model="fake"))) as client:
        assert all(client.get("/v1/collections").status_code == 200 for _ in range(60))
