"""Embed and tokenize shapes."""

from __future__ import annotations

from pydantic import BaseModel, Field

from service.schemas.common import Strict


class EmbedRequest(Strict):
    texts: list[str] = Field(description="Texts to embed.", examples=[["a protein folding study"]])
    collection: str | None = Field(None, description="Embed with this collection's model (default: the service's).")


class EmbedResponse(BaseModel):
    model: str
    dimension: int
    vectors: list[list[float]] = Field(description="One unit-length vector per text.")


class TokenizeRequest(Strict):
    texts: list[str]
    collection: str | None = Field(None, description="Tokenize with this collection's model and chunk size.")


class TokenizedPublic(BaseModel):
    tokens: list[str]
    ids: list[int]
    count: int = Field(description="Tokens, special tokens excluded.")
    chunked: bool = Field(description="Whether indexing would split this text into several chunks.")


class TokenizeResponse(BaseModel):
    model: str
    max_tokens: int = Field(description="Tokens one chunk holds (special tokens excluded).")
    results: list[TokenizedPublic]
