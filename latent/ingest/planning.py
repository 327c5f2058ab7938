"""Upsert planning: validate a batch, skip unchanged content, chunk and embed the rest (no lock held).

The writing half (one transaction, then the index) stays with the collection (`Collection.write_plan`);
this half is pure apart from the two lookups it asks its target for, so a batch job can embed the next
batch while the previous one is written.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Protocol

from latent.embedder.base import Encoder
from latent.errors import InvalidInput
from latent.ingest.chunking import Chunk, chunk_budget, chunk_document, encode_chunks
from latent.records import DocumentInput, PreparedDocument, UpsertPlan

MAX_ID_CHARS = 512


class PlanTarget(Protocol):
    """What planning needs from a collection (a `Collection` is one)."""

    encoder: Encoder
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
    changed = [d for d in docs if stored.get(d.id) != d.content_hash()]
    unchanged = [d for d in docs if stored.get(d.id) == d.content_hash()]
    if not changed:
        return [], unchanged
    per_doc = chunk(target, changed)
    vectors = encode_chunks(target.encoder, [c for chunks in per_doc for c in chunks])
    prepared, offset = [], 0
    for doc, chunks in zip(changed, per_doc, strict=True):
        spans = [(c.char_start, c.char_end, c.token_count) for c in chunks]
        prepared.append(PreparedDocument(doc, doc.content_hash(), spans, vectors[offset : offset + len(chunks)]))
        offset += len(chunks)
    return prepared, unchanged


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
    if not (doc.text.strip() or doc.title.strip()):
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
