"""One error envelope for everything: domain errors, validation, HTTP errors, oversize bodies, crashes.

`{"error": {"code": "collection_not_found", "message": "…", "details": {…}}}` with the matching status.
"""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from latent.errors import LatentError

log = logging.getLogger("latent.service")

_HTTP_CODES = {
    400: "bad_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    406: "not_acceptable",
    409: "conflict",
    413: "too_large",
    415: "unsupported_media_type",
    429: "rate_limited",
}


def error_body(code: str, message: str, details: dict[str, Any] | None = None) -> dict[str, Any]:
    return {"error": {"code": code, "message": message, "details": details or {}}}


def error_response(
    status: int,
    code: str,
    message: str,
    details: dict[str, Any] | None = None,
    headers: dict[str, str] | None = None,
) -> JSONResponse:
    return JSONResponse(error_body(code, message, details), status_code=status, headers=headers)


def body_too_large(limit: int) -> JSONResponse:
    return error_response(413, "body_too_large", f"request body larger than {limit} bytes", {"max_bytes": limit})


def unexpected_error(request_id: str) -> JSONResponse:
    """A 500 that tells the caller which request id to quote; the traceback is only in the log."""
    return error_response(
        500,
        "internal_error",
        f"unexpected server error (request id {request_id})",
        {"request_id": request_id},
    )


async def latent_error_handler(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, LatentError)
    headers = {"WWW-Authenticate": "Bearer"} if exc.status == 401 else None
    return error_response(exc.status, exc.code, exc.message, exc.details, headers)


def _jsonable(value: Any) -> Any:
    if value is None or isinstance(value, str | int | float | bool):
        return value
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    return str(value)


async def validation_error_handler(request: Request, exc: Exception) -> JSONResponse:
    """Malformed JSON is a 400; a well-formed body of the wrong shape is a 422 listing every problem."""
    assert isinstance(exc, RequestValidationError)
    errors = [
        {
            "loc": _jsonable(list(e.get("loc", ()))),
            "message": str(e.get("msg", "")),
            "type": str(e.get("type", "")),
        }
        for e in exc.errors()
    ]
    json_error = next((e for e in exc.errors() if e.get("type") == "json_invalid"), None)
    if json_error is not None:
        reason = (json_error.get("ctx") or {}).get("error", "invalid JSON")
        return error_response(
            400,
            "invalid_json",
            f"request body is not valid JSON: {reason}",
            {"loc": _jsonable(list(json_error.get("loc", ())))},
        )
    first = errors[0] if errors else {"loc": [], "message": "invalid request"}
    where = ".".join(str(p) for p in first["loc"]) or "request"
    more = f" (and {len(errors) - 1} more)" if len(errors) > 1 else ""
    return error_response(422, "validation_error", f"{where}: {first['message']}{more}", {"errors": errors})


async def http_error_handler(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    code = _HTTP_CODES.get(exc.status_code, "http_error")
    if exc.status_code == 404 and exc.detail == "Not Found":
        message = f"no route {request.method} {request.url.path}"
    elif exc.status_code == 405:
        message = f"method {request.method} not allowed on {request.url.path}"
    else:
        message = str(exc.detail)
    return error_response(exc.status_code, code, message, headers=getattr(exc, "headers", None))


def install_error_handlers(app: FastAPI) -> None:
    app.add_exception_handler(LatentError, latent_error_handler)
    app.add_exception_handler(RequestValidationError, validation_error_handler)
    app.add_exception_handler(StarletteHTTPException, http_error_handler)
