"""Domain errors; each carries a stable machine-readable code and an HTTP status the service maps it to."""

from __future__ import annotations

from typing import Any


class LatentError(Exception):
    """Base of every error Latent raises on purpose."""

    code = "latent_error"
    status = 400

    def __init__(self, message: str, *, code: str | None = None, details: dict[str, Any] | None = None):
        super().__init__(message)
        self.message = message
        if code:
            self.code = code
        self.details = details or {}


class InvalidInput(LatentError):
    code = "invalid_input"
    status = 400


class NotFound(LatentError):
    code = "not_found"
    status = 404


class Conflict(LatentError):
    code = "conflict"
    status = 409


class DimensionMismatch(InvalidInput):
    code = "dimension_mismatch"


class BackendMismatch(Conflict):
    """Query vectors from one encoder backend would not be comparable with a collection built by another."""

    code = "backend_mismatch"


class NoEncoder(InvalidInput):
    """The collection has no encoder (its vectors come from the caller), so text cannot be turned into one."""

    code = "no_encoder"


class TooLarge(LatentError):
    code = "too_large"
    status = 413


class Unauthorized(LatentError):
    code = "unauthorized"
    status = 401


class Forbidden(LatentError):
    code = "forbidden"
    status = 403


class ModelUnavailable(LatentError):
    """The configured model is neither a local folder nor an installed package."""

    code = "model_unavailable"
    status = 400


class MissingDependency(LatentError):
    code = "missing_dependency"
    status = 501


class CollectionNotFound(NotFound):
    code = "collection_not_found"

    def __init__(self, name: str):
        super().__init__(f"collection {name!r} does not exist", details={"collection": name})


class DocumentNotFound(NotFound):
    code = "document_not_found"

    def __init__(self, ids: list[str], collection: str):
        shown = ", ".join(repr(i) for i in ids[:10])
        super().__init__(
            f"document{'s' if len(ids) > 1 else ''} {shown} not found in collection {collection!r}",
            details={"ids": ids, "collection": collection},
        )
