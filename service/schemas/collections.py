"""Collection shapes: create, public view and the list envelope."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, Field

from latent.store.records import CollectionInfo
from service.schemas.common import Strict


class CollectionCreate(Strict):
    name: str = Field(
        description="Letters, digits, '_', '-', '.'; at most 128 characters.", examples=["papers"]
    )
    model: str | None = Field(None, description="Embedding model (default: the service's model).")
    index: str | None = Field(
        None, description="Index type: flat | hnsw | ivf-pq | auto, with optional params."
    )


class CollectionPublic(BaseModel):
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
    index_stats: dict[str, Any] = Field(default_factory=dict)

    @classmethod
    def of(cls, info: CollectionInfo) -> CollectionPublic:
        return cls(
            name=info.name,
            model=info.model,
            backend=info.backend,
            dimension=info.dimension,
            metric=info.metric,
            index=info.index,
            documents=info.documents,
            chunks=info.chunks,
            chunk_tokens=info.chunk_tokens,
            chunk_overlap=info.chunk_overlap,
            created_at=info.created_at,
            index_stats=info.index_stats,
        )


class CollectionsPublic(BaseModel):
    data: list[CollectionPublic]
    count: int
