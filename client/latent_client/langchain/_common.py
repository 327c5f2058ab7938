"""Helpers shared by the store's sync and async halves: request payloads and answers as LangChain documents."""

from __future__ import annotations

import math
import uuid
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from langchain_core.documents import Document

from latent_client.errors import LatentHTTPError
from latent_client.models import Hit, RecommendHit

Filter = Mapping[str, Any]


def document_of(hit: Hit | RecommendHit) -> Document:
    return Document(id=hit.id, page_content=hit.text or "", metadata=dict(hit.metadata or {}))


def filled_ids(n: int, ids: Sequence[str | None] | None) -> list[str]:
    """The caller's ids where given, a fresh uuid4 for each missing one (LangChain's convention)."""
    given = list(ids) if ids is not None else [None] * n
    if len(given) != n:
        raise ValueError(f"{len(given)} ids for {n} texts")
    return [str(i) if i is not None else str(uuid.uuid4()) for i in given]


def payloads(
    texts: Sequence[str], metadatas: Sequence[dict[str, Any]] | None, ids: list[str], vectors: list[list[float]] | None
) -> list[dict[str, Any]]:
    metas = list(metadatas) if metadatas is not None else [{}] * len(texts)
    docs: list[dict[str, Any]] = []
    for i, text in enumerate(texts):
        doc: dict[str, Any] = {"id": ids[i], "text": text, "metadata": dict(metas[i] or {})}
        if vectors is not None:
            doc["vector"] = vectors[i]
        docs.append(doc)
    return docs


def is_missing(error: LatentHTTPError) -> bool:
    return error.status == 404


def delete_args(ids: list[str] | None, filter: Filter | None) -> dict[str, Any]:
    if ids is not None:
        return {"ids": list(ids)}
    if not filter:  # the server refuses an empty filter too: deleting everything is `delete_collection`
        raise ValueError("delete needs ids or a non-empty filter (delete_collection() drops everything)")
    return {"filter": dict(filter)}


def as_example(query: dict[str, Any]) -> dict[str, Any]:
    """A search spec ({"query": text} or {"vector": v}) as a recommend example."""
    return {"text": query["query"]} if "query" in query else {"vector": query["vector"]}


def mmr_args(k: int, lambda_mult: float, filter: Filter | None) -> dict[str, Any]:
    if not 0.0 <= lambda_mult <= 1.0:
        raise ValueError(f"lambda_mult must lie in [0, 1], got {lambda_mult}")
    return {"k": k, "diversity": 1.0 - lambda_mult, "filter": filter, "with_text": True, "with_metadata": True}


def relevance_fn(metric: str) -> Callable[[float], float]:
    """Latent's scores to [0, 1]: cosine and dot via (1 + s) / 2, l2 (minus squared distance) via the distance."""
    if metric == "l2":
        return lambda score: 1.0 - math.sqrt(max(0.0, -score)) / math.sqrt(2)
    return lambda score: (1.0 + score) / 2.0
