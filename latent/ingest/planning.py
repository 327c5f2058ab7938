"""Upsert planning: validate a batch, skip unchanged content, chunk and embed the rest (no lock held).

Documents that carry precomputed chunks (`DocumentInput.precomputed`: vectors made elsewhere) are stored
as given instead: validated (dimension, finite, spans inside the text and in order), normalised only
when the collection's metric is cosine. A collection without an encoder takes only those.

The writing half (one transaction, then the index) stays with the collection (`Collection.write_plan`);
this half is pure apart from the two lookups it asks its target for, so a batch job can embed the next
batch while the previous one is written.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from typing import Any, Protocol

import numpy as np

from latent.embedder.base import Encoder
from latent.errors import InvalidInput, NoEncoder
from latent.ingest.chunking import Chunk, chunk_budget, chunk_document, encode_chunks
from latent.records import DocumentInput, PrecomputedChunk, PreparedDocument, UpsertPlan
from latent.vectors import as_vector, unit_rows

MAX_ID_CHARS = 512
UNIT_TOLERANCE = 1e-6  # a precomputed vector this close to unit length counts as normalised already


class PlanTarget(Protocol):
    """What planning needs from a collection (a `Collection` is one)."""

    encoder: Encoder | None  # None: an encoder-less collection (every document brings its vectors)
    dimension: int
    metric: str
    chunk_tokens: int
    chunk_overlap: int

    def stored_hashes(self, external_ids: Sequence[str]) -> dict[str, str]: ...

    def stored_metadata(self, external_ids: Sequence[str]) -> dict[str, dict[str, Any]]: ...


def plan_upsert(target: PlanTarget, docs: Sequence[DocumentInput]) -> UpsertPlan:
    """The embedding half of an upsert. The plan is valid only if no write touches these ids first."""
    check_unique(docs)
    prepared, unchanged = prepare(target, docs)
    stored_meta = target.stored_metadata([d.id for d in unchanged])
    metadata_only = [d for d in unchanged if stored_meta.get(d.id) != d.metadata]
    return UpsertPlan(prepared, unchanged, metadata_only)


def prepare(
    target: PlanTarget, docs: Sequence[DocumentInput], skip_hashes: dict[str, str] | None = None
) -> tuple[list[PreparedDocument], list[DocumentInput]]:
    """Chunk and embed the documents whose content changed; returns (prepared, unchanged).

    Args:
        skip_hashes: stored content hashes by id (default: looked up in the target).
    """
    for doc in docs:
        validate_document(doc)
    stored = skip_hashes if skip_hashes is not None else target.stored_hashes([d.id for d in docs])
    given = {d.id: precomputed(target, d) for d in docs if d.precomputed is not None}
    hashes = {d.id: given[d.id].content_hash if d.id in given else d.content_hash() for d in docs}
    changed = [d for d in docs if stored.get(d.id) != hashes[d.id]]
    unchanged = [d for d in docs if stored.get(d.id) == hashes[d.id]]
    if not changed:
        return [], unchanged
    to_encode = [d for d in changed if d.precomputed is None]
    if to_encode and target.encoder is None:
        raise NoEncoder(
            f"document {to_encode[0].id!r} has no vector and this collection has no encoder to make one",
            details={"id": to_encode[0].id},
        )
    encoded: dict[str, PreparedDocument] = {}
    if to_encode:
        per_doc = chunk(target, to_encode)
        vectors = encode_chunks(target.encoder, [c for chunks in per_doc for c in chunks])
        offset = 0
        for doc, chunks in zip(to_encode, per_doc, strict=True):
            spans = [(c.char_start, c.char_end, c.token_count) for c in chunks]
            encoded[doc.id] = PreparedDocument(doc, doc.content_hash(), spans, vectors[offset : offset + len(chunks)])
            offset += len(chunks)
    return [given.get(d.id) or encoded[d.id] for d in changed], unchanged


def precomputed(target: PlanTarget, doc: DocumentInput) -> PreparedDocument:
    """A document's given chunks, checked and ready to store (unit length for a cosine collection).

    Raises:
        DimensionMismatch: a vector's width is not the collection's dimension.
        InvalidInput: `invalid_vector` (NaN, infinity, a zero vector under cosine), `invalid_chunks`
            (no chunk, a span outside the text, spans out of order).
    """
    chunks = doc.precomputed or ()
    details = {"id": doc.id}
    if not chunks:
        raise InvalidInput(
            f"document {doc.id!r}: precomputed needs at least one chunk", code="invalid_chunks", details=details
        )
    last = 0
    for c in chunks:
        if not (0 <= c.char_start <= c.char_end <= len(doc.text)) or c.char_start < last:
            raise InvalidInput(
                f"document {doc.id!r}: chunk span [{c.char_start}, {c.char_end}) is outside the text "
                f"(length {len(doc.text)}) or out of order",
                code="invalid_chunks",
                details={**details, "start": c.char_start, "end": c.char_end},
            )
        last = c.char_start
    cosine = target.metric == "cosine"
    rows = [
        as_vector(c.vector, target.dimension, name=f"vector of document {doc.id!r}", allow_zero=not cosine)
        for c in chunks
    ]
    vectors = np.stack(rows)
    if cosine:  # rows already of unit length stay bit for bit as given, so storing them again is a no-op
        off = np.abs(np.linalg.norm(vectors, axis=1) - 1.0) > UNIT_TOLERANCE
        vectors[off] = unit_rows(vectors[off])
    spans = [(c.char_start, c.char_end, 0) for c in chunks]
    # The hash of the vectors as stored (unit length under cosine): `latent check` can recompute it from
    # the chunk rows, and re-importing exported vectors is a no-op.
    as_stored = tuple(PrecomputedChunk(c.char_start, c.char_end, v) for c, v in zip(chunks, vectors, strict=True))
    return PreparedDocument(doc, replace(doc, precomputed=as_stored).content_hash(), spans, vectors)


def chunk(target: PlanTarget, docs: Sequence[DocumentInput]) -> list[list[Chunk]]:
    """The windows each document is embedded as (title-prefixed, overlapping, nothing dropped)."""
    encoder = target.encoder
    budget = chunk_budget(encoder, target.chunk_tokens)
    title_toks = encoder.tokenize([d.title for d in docs])
    text_toks = encoder.tokenize([d.text for d in docs])
    return [
        chunk_document(d.title, d.text, tt, xt, budget, target.chunk_overlap)
        for d, tt, xt in zip(docs, title_toks, text_toks, strict=True)
    ]


def validate_document(doc: DocumentInput) -> None:
    """Raises InvalidInput `invalid_document` for an id, title, text or metadata a collection cannot store."""
    if not isinstance(doc.id, str) or not doc.id.strip():
        raise InvalidInput("every document needs a non-empty string id", code="invalid_document")
    if len(doc.id) > MAX_ID_CHARS:
        raise InvalidInput(
            f"document id longer than {MAX_ID_CHARS} characters",
            code="invalid_document",
            details={"id": doc.id[:64] + "…"},
        )
    if not isinstance(doc.text, str) or not isinstance(doc.title, str):
        raise InvalidInput(
            f"document {doc.id!r}: text and title must be strings", code="invalid_document", details={"id": doc.id}
        )
    if not (doc.text.strip() or doc.title.strip() or doc.precomputed):
        raise InvalidInput(f"document {doc.id!r} has no text", code="invalid_document", details={"id": doc.id})
    if not isinstance(doc.metadata, dict):
        raise InvalidInput(
            f"document {doc.id!r}: metadata must be an object", code="invalid_document", details={"id": doc.id}
        )


def check_unique(docs: Sequence[DocumentInput]) -> None:
    """Raises InvalidInput `duplicate_ids` when one batch names a document twice."""
    seen: set[str] = set()
    dupes = sorted({d.id for d in docs if d.id in seen or seen.add(d.id)})
    if dupes:
        raise InvalidInput(
            f"duplicate document ids in one batch: {dupes[:5]}", code="duplicate_ids", details={"ids": dupes}
        )
