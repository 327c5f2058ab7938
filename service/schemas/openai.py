"""OpenAI-compatible embeddings shapes: the request, the list of embeddings, and OpenAI's error envelope."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, Field

from service.schemas.common import ErrorResponse, Strict

MAX_DIMENSIONS = 4096
MAX_TOKEN_ID = 2**31 - 1

TokenId = Annotated[int, Field(ge=0, le=MAX_TOKEN_ID)]


class OpenAIEmbeddingCreate(Strict):
    """OpenAI's `POST /v1/embeddings` body; unknown fields are refused, as OpenAI refuses them."""

    input: str | list[str] | list[TokenId] | list[list[TokenId]] = Field(
        description="A text or a list of texts (at most `max_batch_texts`). Token-id arrays, which OpenAI "
        "also accepts, are refused with a 400: send the text.",
        examples=["a protein folding study"],
    )
    model: str = Field(
        min_length=1,
        max_length=512,
        description="A loaded model: the service's default model or the model of a collection.",
        examples=["all-MiniLM-L6-v2"],
    )
    encoding_format: Literal["float", "base64"] = Field(
        "float", description="`float`: a list of numbers; `base64`: the little-endian float32 bytes, base64-encoded."
    )
    dimensions: int | None = Field(
        None,
        ge=1,
        le=MAX_DIMENSIONS,
        description="Must equal the model's dimension: Latent's models are not Matryoshka-trained, so truncated "
        "vectors would lose quality; any other value is a 400.",
    )
    user: str | None = Field(None, max_length=256, description="End-user id; accepted and ignored.")


class OpenAIEmbedding(BaseModel):
    object: Literal["embedding"] = "embedding"
    index: int = Field(description="Position of the input this vector embeds.")
    embedding: list[float] | str = Field(description="Unit-length vector, or its float32 bytes in base64.")


class OpenAIUsage(BaseModel):
    prompt_tokens: int = Field(description="Tokens of all inputs, by the model's tokenizer (special tokens excluded).")
    total_tokens: int


class OpenAIEmbeddingList(BaseModel):
    object: Literal["list"] = "list"
    data: list[OpenAIEmbedding]
    model: str = Field(description="The model that made the vectors.")
    usage: OpenAIUsage


class OpenAIErrorDetail(BaseModel):
    message: str
    type: str = Field(description="`invalid_request_error` for every 4xx, as OpenAI answers.")
    param: str | None = Field(description="The request field at fault, when one is.")
    code: str | None = Field(description="Latent's stable error code, e.g. model_not_found.")


class OpenAIErrorResponse(BaseModel):
    """OpenAI's error envelope: what `/v1/embeddings` answers instead of Latent's."""

    error: OpenAIErrorDetail


OPENAI_ERROR_RESPONSES: dict[int | str, dict[str, Any]] = {
    status: {"model": OpenAIErrorResponse, "description": description}
    for status, description in (
        (400, "Invalid input (validation, empty or oversized batch, token ids, dimensions)"),
        (401, "Missing or invalid API key"),
        (403, "API key scope too low"),
        (404, "Model not loaded"),
    )
}
# Refused before the route runs (body over max_body_bytes, rate limit), so in Latent's own envelope; declaring
# it also keeps FastAPI from listing a 422 this route never answers.
OPENAI_ERROR_RESPONSES["4XX"] = {"model": ErrorResponse, "description": "Body too large or rate limited"}
