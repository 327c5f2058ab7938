"""OpenAI-compatible `POST /v1/embeddings`: `/v1/embed`'s vectors in OpenAI's request, response and error shapes.

Every error raised while this route handles a request (auth, validation, the route's own checks) is
rendered by Latent's handlers and then restated as OpenAI's `{"error": {"message", "type", "param",
"code"}}`, with 413 and 422 answered as 400 like OpenAI does; the rest of the API keeps Latent's envelope.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Callable, Coroutine
from typing import Any

import numpy as np
from fastapi import APIRouter, Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from fastapi.routing import APIRoute
from starlette.exceptions import HTTPException as StarletteHTTPException

from latent.config import Settings
from latent.embedder import Encoder, encoder_identity
from latent.errors import InvalidInput, LatentError, NotFound
from latent.ingest.tokens import token_reports
from latent.limits import check_batch
from latent.store.store import Store
from service.auth import Read
from service.deps import EncoderDep, SettingsDep, StoreDep
from service.errors import http_error_handler, latent_error_handler, validation_error_handler
from service.schemas.openai import (
    OPENAI_ERROR_RESPONSES,
    OpenAIEmbedding,
    OpenAIEmbeddingCreate,
    OpenAIEmbeddingList,
    OpenAIUsage,
)

# OpenAI reports every bad request as a 400, oversized batches and schema errors included.
_AS_400 = {413, 422}
_HANDLERS: tuple[tuple[type[Exception], Callable[[Request, Exception], Coroutine[Any, Any, JSONResponse]]], ...] = (
    (LatentError, latent_error_handler),
    (RequestValidationError, validation_error_handler),
    (StarletteHTTPException, http_error_handler),
)


def _param(details: dict[str, Any]) -> str | None:
    """The top-level field at fault: named by the route's own errors, or where the first validation error is."""
    if isinstance(details.get("param"), str):
        return details["param"]
    errors = details.get("errors") or [{}]
    loc = [p for p in errors[0].get("loc") or [] if p != "body"]
    return str(loc[0]) if loc else None


async def openai_error(request: Request, exc: Exception) -> JSONResponse | None:
    """Latent's response for `exc`, restated in OpenAI's error shape; None for an error no handler knows (a 500)."""
    handler = next((h for kind, h in _HANDLERS if isinstance(exc, kind)), None)
    if handler is None:
        return None
    latent = await handler(request, exc)
    error = json.loads(bytes(latent.body))["error"]
    status = 400 if latent.status_code in _AS_400 else latent.status_code
    body = {
        "error": {
            "message": error["message"],
            "type": "invalid_request_error" if status < 500 else "server_error",
            "param": _param(error["details"]),
            "code": error["code"],
        }
    }
    headers = {k: v for k, v in latent.headers.items() if k.lower() not in {"content-length", "content-type"}}
    return JSONResponse(body, status_code=status, headers=headers)


class OpenAIRoute(APIRoute):
    """A route whose errors come in OpenAI's shape (see the module docstring)."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handle = super().get_route_handler()

        async def handle_openai(request: Request) -> Response:
            try:
                return await handle(request)
            except Exception as exc:
                response = await openai_error(request, exc)
                if response is None:
                    raise  # unexpected: the middleware's logged 500 with a request id
                return response

        return handle_openai


router = APIRouter(prefix="/v1", tags=["openai"], route_class=OpenAIRoute, responses=OPENAI_ERROR_RESPONSES)


def _model_encoder(model: str, store: Store, default: Encoder) -> Encoder:
    """The query encoder of a loaded model: the service's default, else the first collection built with it."""
    name = encoder_identity(model)
    if name == default.model_name:
        return default
    collections = store.list_collections()
    for info in collections:
        if info.model == name:
            return store.query_encoder(info.model, info.backend)  # as /v1/embed does for a collection
    available = sorted({default.model_name, *(c.model for c in collections)})
    raise NotFound(
        f"the model {model!r} is not loaded here; use one of {', '.join(available)}",
        code="model_not_found",
        details={"param": "model", "model": model, "available": available},
    )


def _texts(body: OpenAIEmbeddingCreate, settings: Settings) -> list[str]:
    texts = [body.input] if isinstance(body.input, str) else body.input
    check_batch(settings, len(texts), "inputs")
    if not all(isinstance(t, str) for t in texts):
        raise InvalidInput(
            "token-id input is not supported: send the text (a string or a list of strings)",
            code="token_input_unsupported",
            details={"param": "input"},
        )
    return texts  # type: ignore[return-value]  # every item was just checked to be a str


def _encoded(vector: np.ndarray, encoding_format: str) -> list[float] | str:
    if encoding_format == "base64":
        return base64.b64encode(vector.astype("<f4").tobytes()).decode("ascii")
    return vector.tolist()


@router.post("/embeddings", name="embeddings", dependencies=[Read])
def create_embeddings(
    body: OpenAIEmbeddingCreate, store: StoreDep, encoder: EncoderDep, settings: SettingsDep
) -> OpenAIEmbeddingList:
    """Unit-length vectors, identical to `/v1/embed`'s for the same model; usage counts the tokenizer's tokens.

    `dimensions` must equal the model's dimension (no Matryoshka truncation). Texts longer than the model's
    window are truncated, as in `/v1/embed`.
    """
    texts = _texts(body, settings)
    enc = _model_encoder(body.model, store, encoder)
    if body.dimensions is not None and body.dimensions != enc.dimension:
        raise InvalidInput(
            f"dimensions must be {enc.dimension} for {enc.model_name}: it is not Matryoshka-trained, "
            "so Latent does not truncate its vectors",
            code="dimensions_unsupported",
            details={"param": "dimensions", "dimensions": body.dimensions, "model_dimension": enc.dimension},
        )
    vectors = enc.encode(texts)
    _, reports = token_reports(enc, texts)
    tokens = sum(r.count for r in reports)
    return OpenAIEmbeddingList(
        data=[OpenAIEmbedding(index=i, embedding=_encoded(v, body.encoding_format)) for i, v in enumerate(vectors)],
        model=enc.model_name,
        usage=OpenAIUsage(prompt_tokens=tokens, total_tokens=tokens),
    )
