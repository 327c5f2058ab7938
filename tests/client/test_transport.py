"""Retries: 429/503 and connection errors with back-off and Retry-After, against a mock transport and real servers.

The mock transport stands in for the server only: what is under test is the client's retry loop.
"""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

import httpx
import pytest
from fastapi.testclient import TestClient
from helpers.server import free_port
from latent_client import AsyncLatentClient, LatentClient, LatentHTTPError, RetryPolicy
from latent_client._transport import retry_after

from latent.config import get_settings
from service.main import create_app

EMPTY = {"data": [], "count": 0}
FAST = RetryPolicy(retries=3, backoff=0.01)


def script(*steps: int | Exception, headers: dict[str, str] | None = None) -> tuple[httpx.MockTransport, list[str]]:
    """A transport answering each request with the next step: a status (200 → an empty list) or an exception."""
    seen: list[str] = []
    pending = list(steps)

    def handle(request: httpx.Request) -> httpx.Response:
        seen.append(f"{request.method} {request.url.path}")
        step = pending.pop(0) if len(pending) > 1 else pending[0]
        if isinstance(step, Exception):
            raise step
        if step == 200:
            return httpx.Response(200, json=EMPTY)
        error = {"error": {"code": "not_ready" if step == 503 else "rate_limited", "message": "later", "details": {}}}
        return httpx.Response(step, json=error, headers=headers or {})

    return httpx.MockTransport(handle), seen


def sync_client(transport: httpx.MockTransport, retry: RetryPolicy = FAST) -> LatentClient:
    return LatentClient(http=httpx.Client(transport=transport, base_url="http://latent.test"), retry=retry)


def test_503_then_200_is_retried() -> None:
    transport, seen = script(503, 503, 200)
    assert sync_client(transport).list_collections().count == 0
    assert seen == ["GET /v1/collections"] * 3


def test_async_503_then_200_is_retried() -> None:
    transport, seen = script(503, 200)

    async def call() -> int:
        http = httpx.AsyncClient(transport=transport, base_url="http://latent.test")
        async with http:
            return (await AsyncLatentClient(http=http, retry=FAST).list_collections()).count

    assert asyncio.run(call()) == 0 and len(seen) == 2


def test_retries_run_out_and_raise_the_typed_error() -> None:
    transport, seen = script(503)
    with pytest.raises(LatentHTTPError) as info:
        sync_client(transport, RetryPolicy(retries=2, backoff=0.01)).list_collections()
    assert (info.value.status, info.value.code, len(seen)) == (503, "not_ready", 3)


def test_other_errors_are_not_retried() -> None:
    transport, seen = script(404)
    with pytest.raises(LatentHTTPError):
        sync_client(transport).list_collections()
    assert len(seen) == 1


def test_retry_after_is_honoured() -> None:
    transport, seen = script(429, 200, headers={"Retry-After": "1"})
    start = time.monotonic()
    assert sync_client(transport).list_collections().count == 0
    assert time.monotonic() - start >= 1.0 and len(seen) == 2


def test_retry_after_longer_than_the_longest_wait_is_raised_at_once() -> None:
    transport, seen = script(429, 200, headers={"Retry-After": "120"})
    with pytest.raises(LatentHTTPError) as info:
        sync_client(transport, RetryPolicy(max_backoff=5)).list_collections()
    assert info.value.status == 429 and info.value.headers["retry-after"] == "120" and len(seen) == 1


def test_retry_after_reads_seconds_and_http_dates() -> None:
    assert retry_after(httpx.Response(429, headers={"Retry-After": "3"})) == 3.0
    later = format_datetime(datetime.now(UTC) + timedelta(seconds=30), usegmt=True)
    assert 25 <= (retry_after(httpx.Response(503, headers={"Retry-After": later})) or 0) <= 30
    assert retry_after(httpx.Response(503, headers={"Retry-After": "soon"})) is None
    assert retry_after(httpx.Response(503)) is None


def test_connection_errors_are_retried() -> None:
    transport, seen = script(httpx.ConnectError("refused"), httpx.ConnectError("refused"), 200)
    assert sync_client(transport).list_collections().count == 0 and len(seen) == 3


def test_a_dropped_answer_is_resent_for_a_read() -> None:
    transport, seen = script(httpx.ReadError("connection reset"), 200)
    assert sync_client(transport).list_documents("c").count == 0
    assert len(seen) == 2


def test_a_dropped_answer_is_not_resent_when_repeating_would_add_state() -> None:
    """Recording events twice would double them: the error is raised instead of resending."""
    transport, seen = script(httpx.ReadError("connection reset"), 200)
    with pytest.raises(httpx.ReadError):
        sync_client(transport).record_events("c", "u", [{"id": "d", "kind": "like"}])
    assert seen == ["POST /v1/collections/c/profiles/u/events"]


def test_refused_connection_to_a_real_port_is_retried_then_raised() -> None:
    attempts: list[httpx.Request] = []
    http = httpx.Client(base_url=f"http://127.0.0.1:{free_port()}", event_hooks={"request": [attempts.append]})
    with pytest.raises(httpx.ConnectError):
        LatentClient(http=http, retry=RetryPolicy(retries=2, backoff=0.01)).health()
    assert len(attempts) == 3


def test_rate_limited_real_server_is_waited_out(tmp_path) -> None:  # noqa: ANN001
    settings = get_settings(home=tmp_path, model="fake", rate_limit_per_second=2.0, rate_limit_burst=1)
    with TestClient(create_app(settings)) as http:
        api = LatentClient(http=http)
        start = time.monotonic()
        counts = [api.list_collections().count for _ in range(3)]  # the 2nd and 3rd each meet a 429 first
        assert counts == [0, 0, 0] and time.monotonic() - start >= 1.0
        with pytest.raises(LatentHTTPError) as info:
            LatentClient(http=http, retry=RetryPolicy(retries=0)).list_collections()
        assert info.value.code == "rate_limited" and int(info.value.headers["retry-after"]) >= 1
