"""ASGI middleware: a request id on every response, the body-size limit, and the last-resort 500."""

from __future__ import annotations

import logging
import re
import uuid

from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from service.errors import body_too_large, unexpected_error

log = logging.getLogger("latent.service")
_REQUEST_ID = re.compile(r"^[A-Za-z0-9._\-]{1,64}$")
_BODY_METHODS = {"POST", "PUT", "PATCH", "DELETE"}


class RequestContextMiddleware:
    """Pure ASGI (no BaseHTTPMiddleware) so it adds nothing but a few dict lookups to each request."""

    def __init__(self, app: ASGIApp, max_body_bytes: int):
        self.app = app
        self.max_body_bytes = max_body_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = dict(scope.get("headers") or [])
        incoming = headers.get(b"x-request-id", b"").decode("latin-1")
        request_id = incoming if _REQUEST_ID.match(incoming) else uuid.uuid4().hex
        scope.setdefault("state", {})["request_id"] = request_id
        started = False

        async def send_with_id(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
                MutableHeaders(scope=message).append("x-request-id", request_id)
            await send(message)

        try:
            if scope["method"] in _BODY_METHODS:
                receive = await self._buffer_body(headers, receive)
                if receive is None:
                    await body_too_large(self.max_body_bytes)(scope, _no_body, send_with_id)
                    return
            await self.app(scope, receive, send_with_id)
        except Exception:
            log.exception("unexpected error handling %s %s (request id %s)", scope["method"], scope["path"], request_id)
            if started:
                raise
            await unexpected_error(request_id)(scope, _no_body, send_with_id)

    async def _buffer_body(self, headers: dict[bytes, bytes], receive: Receive) -> Receive | None:
        """Read the body up to the limit (None when over it) and hand it on as one message.

        Content-Length is checked first so an honest oversize upload is refused before it is read;
        chunked uploads are counted as they arrive.
        """
        length = headers.get(b"content-length")
        if length is not None and length.isdigit() and int(length) > self.max_body_bytes:
            return None
        body = bytearray()
        while True:
            message = await receive()
            if message["type"] != "http.request":  # client went away: let the app see the disconnect
                first: Message = message
                break
            body += message.get("body", b"")
            if len(body) > self.max_body_bytes:
                return None
            if not message.get("more_body", False):
                first = {"type": "http.request", "body": bytes(body), "more_body": False}
                break
        delivered = False

        async def replay() -> Message:
            nonlocal delivered
            if not delivered:
                delivered = True
                return first
            return await receive()

        return replay


async def _no_body() -> Message:
    return {"type": "http.request", "body": b"", "more_body": False}
