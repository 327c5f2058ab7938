"""Plain records passed between the store and its callers (the HTTP layer converts them to schemas)."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import numpy as np

from latent.embedder.agreement import AgreementReport


@dataclass(frozen=True, slots=True)
class PrecomputedChunk:
    """A chunk whose vector was computed elsewhere (bring-your-own vectors, re-imports): stored as given."""

    char_start: int
    char_end: int
    vector: np.ndarray


@dataclass(slots=True)
class DocumentInput:
    id: str
    text: str
    title: str = ""
    metadata: dict[str, Any] = field(default_factory=dict)
    precomputed: tuple[PrecomputedChunk, ...] | None = None  # set: stored instead of chunking + encoding

    def content_hash(self) -> str:
        """What the stored vectors depend on: title and text, and the given vectors and spans when
        precomputed (a changed vector is a changed document); metadata changes never re-embed."""
        digest = hashlib.sha256(json.dumps([self.title, self.text], ensure_ascii=False).encode())
        for chunk in self.precomputed or ():
            digest.update(f"|{chunk.char_start}:{chunk.char_end}|".encode())
            digest.update(np.ascontiguousarray(chunk.vector, dtype="<f4").tobytes())
        return digest.hexdigest()


@dataclass(slots=True)
class DocumentRecord:
    id: str
    title: str
    text: str | None  # None when the caller asked for it without text (`get_many(..., with_text=False)`)
    metadata: dict[str, Any] | None  # None when asked for without metadata
    chunk_count: int
    token_count: int
    content_hash: str
    created_at: datetime
    updated_at: datetime


@dataclass(slots=True)
class CollectionInfo:
    name: str
    model: str
    backend: str
    dimension: int
    metric: str
    index: str
    documents: int
    chunks: int
    chunk_tokens: int
    chunk_overlap: int
    created_at: datetime
    index_stats: dict[str, Any] = field(default_factory=dict)
    query_backend: str | None = None  # encodes query texts when it is not `backend` (settings.query_backend)
    backend_agreement: AgreementReport | None = None  # how well it agrees with `backend`, once measured


@dataclass(slots=True)
class UpsertResult:
    upserted: int = 0
    unchanged: int = 0
    metadata_updated: int = 0
    chunks_added: int = 0
    chunks_removed: int = 0
    tokens: int = 0

    def __iadd__(self, other: UpsertResult) -> UpsertResult:
        for name in self.__slots__:
            setattr(self, name, getattr(self, name) + getattr(other, name))
        return self


@dataclass(frozen=True, slots=True)
class ChunkSpan:
    """Where one indexed chunk (a vector id) lies: its document and its character span in the text."""

    document_id: int  # the document's row id
    external_id: str
    ordinal: int  # the chunk's position in its document, from 0
    char_start: int
    char_end: int


@dataclass(frozen=True, slots=True)
class ReadState:
    """What a read learns from SQL in one statement before it searches: the change sequence it caught
    the index up to, and the newest clustering (None: the collection has none, so hits carry no cluster)."""

    seq: int
    clustering_id: int | None


@dataclass(slots=True)
class PreparedDocument:
    """A document with its chunks embedded, ready to be written in one transaction."""

    doc: DocumentInput
    content_hash: str
    spans: list[tuple[int, int, int]]  # (char_start, char_end, token_count) per chunk
    vectors: np.ndarray


@dataclass(slots=True)
class UpsertPlan:
    """What an upsert will write, worked out (and embedded) before taking the writer lock."""

    prepared: list[PreparedDocument]
    unchanged: list[DocumentInput]
    metadata_only: list[DocumentInput]  # unchanged content, new metadata: no re-embedding


@dataclass(slots=True)
class Hit:
    id: str
    score: float
    rank: int
    chunk: dict[str, int] | None = None  # {"ordinal", "start", "end"} of the best-matching chunk
    title: str | None = None
    text: str | None = None
    metadata: dict[str, Any] | None = None
    vector: list[float] | None = None
    scores: dict[str, float] = field(default_factory=dict)  # per-mode scores for hybrid
    cluster: int | None = None  # in the collection's newest clustering, when it has one
    explanation: dict[str, Any] | None = None  # recommendations: which examples made it rank, and how much
