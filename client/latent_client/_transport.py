"""One request description (`Call`) and the two transports that send it: sync and async, same retry rules.

An endpoint is defined once as the `Call` it makes; `SyncTransport.send` and `AsyncTransport.send` differ
only in how they wait (the network and the back-off sleep), so retry decisions live in `RetryPolicy`.
"""

from __future__ import annotations

import asyncio
import email.utils
import random
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Generic, TypeVar

import httpx

from latent_client.errors import LatentHTTPError

T = TypeVar("T")

# Nothing reached the server: safe to send again whatever the request does.
_NOT_SENT = (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout)
# The request may have been processed: resend only what changes nothing when repeated.
_MAYBE_SENT = (httpx.ReadError, httpx.WriteError, httpx.RemoteProtocolError, httpx.ReadTimeout, httpx.WriteTimeout)


@dataclass(frozen=True)
class Call(Generic[T]):
    """What one endpoint sends and how its answer becomes a typed result."""

    method: str
    path: str
    parse: Callable[[httpx.Response], T]
    json: Any = None
    params: Mapping[str, Any] | None = None
    idempotent: bool = True  # False for calls that add state each time (events, jobs): not resent after a send


@dataclass(frozen=True)
class RetryPolicy:
    """Exponential back-off on connection errors and on 429/503 answers; a Retry-After header is honoured.

    Attributes:
        retries: attempts after the first (0 turns retrying off).
        backoff: the first wait in seconds, doubled on each further attempt (plus up to 10 % jitter).
        max_backoff: the longest wait; a Retry-After asking for longer is not waited for (the error is raised).
        statuses: answers worth another try.
    """

    retries: int = 3
    backoff: float = 0.5
    max_backoff: float = 30.0
    statuses: frozenset[int] = field(default_factory=lambda: frozenset({429, 503}))

    def _delay(self, attempt: int) -> float:
        base = min(self.max_backoff, self.backoff * 2**attempt)
        return base * (1 + random.random() * 0.1)

    def after_error(self, exc: httpx.TransportError, call: Call[Any], attempt: int) -> float | None:
        """Seconds to wait before resending after `exc`, or None to raise it."""
        if attempt >= self.retries:
            return None
        if isinstance(exc, _NOT_SENT) or (call.idempotent and isinstance(exc, _MAYBE_SENT)):
            return self._delay(attempt)
        return None

    def after_response(self, response: httpx.Response, attempt: int) -> float | None:
        """Seconds to wait before resending after an error answer, or None to raise it."""
        if attempt >= self.retries or response.status_code not in self.statuses:
            return None
        delay = self._delay(attempt)
        asked = retry_after(response)
        if asked is None:
            return delay
        return max(delay, asked) if asked <= self.max_backoff else None


def retry_after(response: httpx.Response) -> float | None:
    """The Retry-After header in seconds (a number or an HTTP date), None when absent or unreadable."""
    value = response.headers.get("retry-after")
    if value is None:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - datetime.now(UTC)).total_seconds())


def auth_headers(api_key: str | None) -> dict[str, str]:
    return {"Authorization": f"Bearer {api_key}"} if api_key else {}


class SyncTransport:
    """Sends `Call`s over an `httpx.Client` (FastAPI's TestClient is one), retrying per the policy."""

    def __init__(self, http: httpx.Client, headers: Mapping[str, str], retry: RetryPolicy):
        self.http = http
        self.headers = dict(headers)
        self.retry = retry

    def send(self, call: Call[T]) -> T:
        attempt = 0
        while True:
            try:
                response = self.http.request(
                    call.method, call.path, params=call.params, json=call.json, headers=self.headers
                )
            except httpx.TransportError as exc:
                delay = self.retry.after_error(exc, call, attempt)
                if delay is None:
                    raise
            else:
                if response.status_code < 400:
                    return call.parse(response)
                delay = self.retry.after_response(response, attempt)
                if delay is None:
                    raise LatentHTTPError.from_response(response)
            time.sleep(delay)
            attempt += 1


class AsyncTransport:
    """Sends `Call`s over an `httpx.AsyncClient` (an ASGI transport in tests), retrying per the policy."""

    def __init__(self, http: httpx.AsyncClient, headers: Mapping[str, str], retry: RetryPolicy):
        self.http = http
        self.headers = dict(headers)
        self.retry = retry

    async def send(self, call: Call[T]) -> T:
        attempt = 0
        while True:
            try:
                response = await self.http.request(
                    call.method, call.path, params=call.params, json=call.json, headers=self.headers
                )
            except httpx.TransportError as exc:
                delay = self.retry.after_error(exc, call, attempt)
                if delay is None:
                    raise
            else:
                if response.status_code < 400:
                    return call.parse(response)
                delay = self.retry.after_response(response, attempt)
                if delay is None:
                    raise LatentHTTPError.from_response(response)
            await asyncio.sleep(delay)
            attempt += 1
