"""What a bring-your-own-vectors collection (no model) needs: a query encoder that refuses text, and
document vectors kept in the collection's own metric space (dot and l2 must not be normalised)."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import numpy as np

from latent.errors import Conflict, DimensionMismatch, InvalidInput, NoEncoder
from latent.records import DocumentInput, PrecomputedChunk
from latent.store.vectors import decode_vectors

MAX_DIMENSION = 65_536  # FAISS takes more, but no embedding model comes close


class MissingEncoder:
    """The query encoder of a collection without a model: anything that needs text turned into a vector
    (text search, text recommendation examples, projecting texts onto a map) gets `no_encoder`."""

    model_name = ""
    backend = ""

    def __init__(self, collection: str, dimension: int):
        self.collection = collection
        self.dimension = dimension

    def _refuse(self, *args: Any, **kwargs: Any) -> Any:
        raise NoEncoder(
            f"collection {self.collection!r} has no encoder (its vectors come from you): send a `vector` "
            "instead of text",
            details={"collection": self.collection},
        )

    encode = tokenize = encode_ids = _refuse


def mean_vectors(rows: Iterable[tuple[str, bytes]], dimension: int) -> dict[str, np.ndarray]:
    """(external id, chunk vector) rows -> each document's plain mean chunk vector (not normalised)."""
    grouped: dict[str, list[bytes]] = {}
    for ext, blob in rows:
        grouped.setdefault(ext, []).append(blob)
    return {ext: decode_vectors(blobs, dimension).mean(axis=0) for ext, blobs in grouped.items()}


METRICS = ("cosine", "dot", "l2")


def check_metric(metric: str) -> str:
    """A collection's metric: cosine (vectors normalised at write and query time), dot or l2 (stored as given)."""
    if metric not in METRICS:
        raise InvalidInput(
            f"unknown metric {metric!r}; choose one of {', '.join(METRICS)}",
            code="invalid_metric",
            details={"metric": metric},
        )
    return metric


def new_dimension(dimension: int | None, encoder: Any) -> int:
    """The dimension of a new collection: its encoder's, or the one given for a collection without a model."""
    if encoder is None:
        if dimension is None or not isinstance(dimension, int) or not 1 <= dimension <= MAX_DIMENSION:
            raise InvalidInput(
                f"a collection without a model needs a dimension between 1 and {MAX_DIMENSION}",
                code="invalid_dimension",
                details={"dimension": dimension},
            )
        return dimension
    if dimension is not None and dimension != encoder.dimension:
        raise DimensionMismatch(
            f"model {encoder.model_name!r} makes {encoder.dimension}-d vectors, not {dimension}",
            details={"expected": encoder.dimension, "got": dimension},
        )
    return int(encoder.dimension)


def check_existing(row: Any, dimension: int | None, metric: str | None) -> None:
    """`exist_ok` creation of a collection that exists: a dimension or metric it was not built with is a 409."""
    for field, wanted in (("dimension", dimension), ("metric", metric)):
        if wanted is not None and getattr(row, field) != wanted:
            raise Conflict(
                f"collection {row.name!r} has {field} {getattr(row, field)!r}, not {wanted!r}",
                code=f"{field}_mismatch",
                details={"collection": getattr(row, field), "requested": wanted},
            )


def stored_content_hash(title: str, text: str, chunks: Iterable[tuple[int, int, bytes]], dimension: int) -> str:
    """The content hash of a document written from precomputed chunks, recomputed from its stored
    (char_start, char_end, vector) rows: what `latent check` compares when the text-only hash differs."""
    given = tuple(PrecomputedChunk(start, end, decode_vectors([blob], dimension)[0]) for start, end, blob in chunks)
    return DocumentInput(id="", text=text, title=title, precomputed=given).content_hash()
