"""Collection shapes: create, public view and the list envelope."""

from __future__ import annotations

from dataclasses import asdict
from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, Field

from latent.embedder.agreement import AgreementReport
from latent.records import CollectionInfo
from service.schemas.common import Strict

Metric = Literal["cosine", "dot", "l2"]


class CollectionCreate(Strict):
    name: str = Field(description="Letters, digits, '_', '-', '.'; at most 128 characters.", examples=["papers"])
    model: str | None = Field(
        None,
        description="Embedding model (default: the service's model). Leave it out and give `dimension` for a "
        "collection without an encoder, whose documents bring their own `vector`.",
    )
    index: str | None = Field(None, description="Index type: flat | hnsw | ivf-pq | auto, with optional params.")
    dimension: int | None = Field(
        None,
        ge=1,
        le=65_536,
        description="Vector width. Without `model`: makes a bring-your-own-vectors collection (no encoder). "
        "With `model`: must equal the model's.",
        examples=[768],
    )
    metric: Metric | None = Field(
        None,
        description="cosine (default; vectors normalised at write and query time), dot (inner product of the "
        "vectors as given) or l2 (Euclidean; score = minus the squared distance, so higher is nearer).",
    )


class BackendAgreementPublic(BaseModel):
    """Cosine between the vectors of the collection's backend and of the query backend on the same texts."""

    model: str
    reference: str = Field(description="The backend the collection was built with.")
    candidate: str = Field(description="The backend that encodes query texts.")
    sample: int = Field(description="Texts compared (stored documents, or calibration texts when empty).")
    mean_cosine: float
    min_cosine: float

    @classmethod
    def of(cls, report: AgreementReport | None) -> BackendAgreementPublic | None:
        return None if report is None else cls(**asdict(report))


class CollectionPublic(BaseModel):
    name: str
    model: str | None = Field(description="The embedding model; null for a collection without an encoder.")
    encoder: bool = Field(
        True, description="False: documents and queries must bring their own `vector` (text search answers 400)."
    )
    backend: str | None = Field(description="The encoder backend; null without an encoder.")
    dimension: int
    metric: str
    index: str
    documents: int
    chunks: int
    chunk_tokens: int
    chunk_overlap: int
    created_at: datetime
    index_stats: dict[str, Any] = Field(default_factory=dict)
    query_backend: str | None = Field(
        None, description="Backend that encodes query texts when it is not `backend` (LATENT_QUERY_BACKEND)."
    )
    backend_agreement: BackendAgreementPublic | None = Field(
        None, description="How well the query backend's vectors agree with the collection's."
    )

    @classmethod
    def of(cls, info: CollectionInfo) -> CollectionPublic:
        return cls(
            name=info.name,
            model=info.model or None,
            encoder=bool(info.model),
            backend=info.backend or None,
            dimension=info.dimension,
            metric=info.metric,
            index=info.index,
            documents=info.documents,
            chunks=info.chunks,
            chunk_tokens=info.chunk_tokens,
            chunk_overlap=info.chunk_overlap,
            created_at=info.created_at,
            index_stats=info.index_stats,
            query_backend=info.query_backend,
            backend_agreement=BackendAgreementPublic.of(info.backend_agreement),
        )


class CollectionsPublic(BaseModel):
    data: list[CollectionPublic]
    count: int
