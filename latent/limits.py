"""Request limits from settings (k, query length, batch sizes), checked the same way by every caller."""

from __future__ import annotations

from collections.abc import Sequence

from latent.config import Settings
from latent.errors import InvalidInput, TooLarge


def check_search(settings: Settings, k: int, offset: int = 0, queries: Sequence[str] = ()) -> None:
    """Reject a k outside 1..max_k, a page past 10 x max_k, and any query longer than max_query_chars."""
    if not 1 <= k <= settings.max_k:
        raise InvalidInput(
            f"k must be between 1 and {settings.max_k}, not {k}",
            code="invalid_k",
            details={"k": k, "min": 1, "max": settings.max_k},
        )
    if offset < 0 or k + offset > 10 * settings.max_k:
        raise InvalidInput(
            f"offset must be >= 0 and k + offset at most {10 * settings.max_k}",
            code="invalid_offset",
            details={"offset": offset, "max": 10 * settings.max_k - k},
        )
    for i, query in enumerate(queries):
        if len(query) > settings.max_query_chars:
            raise InvalidInput(
                f"query is {len(query)} characters long; the limit is {settings.max_query_chars}",
                code="query_too_long",
                details={"index": i, "chars": len(query), "max": settings.max_query_chars},
            )


def check_batch(settings: Settings, n: int, what: str = "texts") -> None:
    """Most queries / texts in one batch call."""
    if n > settings.max_batch_texts:
        raise TooLarge(
            f"{n} {what} in one call; the limit is {settings.max_batch_texts}",
            code="batch_too_large",
            details={"count": n, "max": settings.max_batch_texts},
        )
    if n == 0:
        raise InvalidInput(f"no {what} given", code="empty_batch")


def check_documents(settings: Settings, n: int) -> None:
    """Most documents in one upsert."""
    if n > settings.max_batch_documents:
        raise TooLarge(
            f"{n} documents in one upsert; the limit is {settings.max_batch_documents}",
            code="batch_too_large",
            details={"count": n, "max": settings.max_batch_documents},
        )
