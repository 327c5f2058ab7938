"""Shapes shared by every router: the error envelope and its OpenAPI entries."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field


class Strict(BaseModel):
    """Request bodies reject unknown fields, so a typo ('fliter') is an error rather than silently ignored."""

    model_config = ConfigDict(extra="forbid")


class ErrorDetail(BaseModel):
    code: str = Field(description="Stable machine-readable code, e.g. collection_not_found.")
    message: str = Field(description="What went wrong, for people.")
    details: dict[str, Any] = Field(default_factory=dict, description="Structured context (ids, limits, fields).")


class ErrorResponse(BaseModel):
    """The one envelope every error comes in."""

    error: ErrorDetail


class Deleted(BaseModel):
    deleted: int = Field(description="How many documents existed and were deleted.")


ERROR_RESPONSES: dict[int | str, dict[str, Any]] = {
    status: {"model": ErrorResponse, "description": description}
    for status, description in (
        (400, "Invalid input (bad filter, k out of range, malformed JSON…)"),
        (401, "Missing or invalid API key"),
        (403, "API key scope too low"),
        (404, "Collection or document not found"),
        (409, "Conflict (collection exists, model mismatch)"),
        (413, "Body or batch too large"),
        (422, "Request failed validation"),
    )
}
