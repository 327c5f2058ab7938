"""Per-client rate limiting (token buckets keyed by API key, else by client address) → 429 in the envelope."""

from __future__ import annotations

import hashlib
import math
import threading
import time

from starlette.types import ASGIApp, Receive, Scope, Send

from service.errors import error_response

_EXEMPT = ("/healthz", "/readyz")


class TokenBuckets:
    """`rate` requests a second on average, bursts of up to `burst`; buckets idle for a minute are dropped."""

    def __init__(self, rate: float, burst: int):
        self.rate, self.burst = rate, max(1, burst)
        self._buckets: dict[str, tuple[float, float]] = {}
        self._lock = threading.Lock()
        self._last_sweep = time.monotonic()

    def take(self, client: str) -> float:
        """0 when the request may go ahead, else the seconds until it could."""
        now = time.monotonic()
        with self._lock:
            tokens, at = self._buckets.get(client, (float(self.burst), now))
            tokens = min(self.burst, tokens + (now - at) * self.rate)
            if tokens >= 1.0:
                self._buckets[client] = (tokens - 1.0, now)
                wait = 0.0
            else:
                self._buckets[client] = (tokens, now)
                wait = (1.0 - tokens) / self.rate
            if now - self._last_sweep > 60:
                self._buckets = {k: v for k, v in self._buckets.items() if now - v[1] < 60}
                self._last_sweep = now
        return wait


class RateLimitMiddleware:
    def __init__(self, app: ASGIApp, rate: float, burst: int):
        self.app = app
        self.buckets = TokenBuckets(rate, burst) if rate > 0 else None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if self.buckets is None or scope["type"] != "http" or scope["path"] in _EXEMPT:
            await self.app(scope, receive, send)
            return
        wait = self.buckets.take(_client_key(scope))
        if wait > 0:
            response = error_response(
                429,
                "rate_limited",
                f"too many requests: retry in {wait:.2f} s",
                {
                    "retry_after_seconds": round(wait, 3),
                    "rate_per_second": self.buckets.rate,
                    "burst": self.buckets.burst,
                },
            )
            response.headers["retry-after"] = str(max(1, math.ceil(wait)))
            await response(scope, receive, send)
            return
        await self.app(scope, receive, send)


def _client_key(scope: Scope) -> str:
    headers = dict(scope.get("headers") or [])
    key = headers.get(b"x-api-key") or headers.get(b"authorization", b"").removeprefix(b"Bearer ").strip()
    if key:
        return "key:" + hashlib.sha256(key).hexdigest()[:16]
    client = scope.get("client") or ("unknown", 0)
    return f"ip:{client[0]}"
