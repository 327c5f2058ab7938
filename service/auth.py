"""API-key dependencies: each route names the scope it needs (read < write < admin)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Depends, Request
from fastapi.security import APIKeyHeader, HTTPAuthorizationCredentials, HTTPBearer
from starlette.concurrency import run_in_threadpool

from latent.auth import ApiKeys, validate_scope

_bearer = HTTPBearer(auto_error=False, description="Authorization: Bearer <API key>")
_header = APIKeyHeader(name="X-API-Key", auto_error=False, description="The API key in an X-API-Key header")


def require(scope: str) -> Any:
    """A dependency that lets the request through when the key (if any is needed) has `scope`."""
    validate_scope(scope)

    async def check(
        request: Request,
        bearer: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
        header: Annotated[str | None, Depends(_header)],
    ) -> str | None:
        keys: ApiKeys = request.app.state.keys
        key = bearer.credentials if bearer else header
        if not key and keys.cached_active() is False:
            return None  # open mode, known without a query: no thread hop, no SQL
        granted = await run_in_threadpool(keys.authorize, key, scope)
        request.state.scope = granted
        return granted

    check.__name__ = f"require_{scope}"
    return Depends(check)


Read = require("read")
Write = require("write")
Admin = require("admin")
