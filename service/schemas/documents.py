"""Document shapes: batch upsert, public record, list envelope, delete by ids or filter."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import numpy as np
from pydantic import BaseModel, Field, model_validator

from latent.records import DocumentInput, DocumentRecord, PrecomputedChunk
from service.schemas.common import Strict


class DocumentCreate(Strict):
    id: str = Field(description="Your id for the document (unique within the collection).", examples=["a"])
    text: str = Field("", description="Body text; embedded in token-sized chunks.")
    title: str = Field("", description="Title; prefixed to every chunk.")
    metadata: dict[str, Any] = Field(default_factory=dict, description="JSON metadata that filters select on.")
    vector: list[float] | None = Field(
        None,
        min_length=1,
        max_length=65_536,
        description="Your own vector for the document (required, and only accepted, in a collection without "
        "an encoder); it must have the collection's dimension. Stored as one chunk covering the whole text.",
    )

    def to_input(self) -> DocumentInput:
        precomputed = None
        if self.vector is not None:
            precomputed = (PrecomputedChunk(0, len(self.text), np.asarray(self.vector, dtype=np.float32)),)
        return DocumentInput(
            id=self.id, text=self.text, title=self.title, metadata=self.metadata, precomputed=precomputed
        )


class DocumentsUpsert(Strict):
    documents: list[DocumentCreate]


class UpsertPublic(BaseModel):
    upserted: int = Field(description="Documents inserted or re-embedded because their text or title changed.")
    unchanged: int = Field(description="Documents whose content and metadata were already stored.")
    metadata_updated: int = Field(0, description="Documents whose metadata alone changed (no re-embedding).")


class DocumentPublic(BaseModel):
    id: str
    title: str
    text: str
    metadata: dict[str, Any]
    chunk_count: int
    token_count: int
    content_hash: str
    created_at: datetime
    updated_at: datetime

    @classmethod
    def of(cls, r: DocumentRecord) -> DocumentPublic:
        return cls(
            id=r.id,
            title=r.title,
            text=r.text,
            metadata=r.metadata,
            chunk_count=r.chunk_count,
            token_count=r.token_count,
            content_hash=r.content_hash,
            created_at=r.created_at,
            updated_at=r.updated_at,
        )


class DocumentsPublic(BaseModel):
    data: list[DocumentPublic]
    count: int = Field(description="Documents matching in total (data holds one page of them).")


class DocumentsDelete(Strict):
    ids: list[str] | None = Field(None, description="Delete these ids (missing ones are ignored).")
    filter: dict[str, Any] | None = Field(None, description="Or delete every document this filter keeps.")

    @model_validator(mode="after")
    def _one_of(self) -> DocumentsDelete:
        if (self.ids is None) == (self.filter is None):
            raise ValueError("give exactly one of 'ids' or 'filter'")
        return self
