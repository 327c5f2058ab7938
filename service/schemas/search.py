"""Search shapes: single and batch requests, hits with their matched chunk span, neighbours."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, Field

from latent.records import Hit
from latent.search import SearchOptions
from service.schemas.common import Strict

Mode = Literal["dense", "sparse", "hybrid"]


class Weights(Strict):
    dense: float = Field(1.0, ge=0, description="Weight of the dense ranking in reciprocal-rank fusion.")
    sparse: float = Field(1.0, ge=0, description="Weight of the BM25 ranking in reciprocal-rank fusion.")


class SearchOptionsIn(Strict):
    """Options shared by single and batch search."""

    k: int = Field(10, description="Hits to return (1..max_k, 1000 by default).")
    offset: int = Field(0, description="Hits to skip (paging).")
    filter: dict[str, Any] | None = Field(
        None,
        description="Mongo-style metadata filter applied before the vector search.",
        examples=[{"year": {"$gte": 2020}, "tags": {"$contains": "ml"}}],
    )
    mode: Mode = Field("dense", description="dense (vectors) | sparse (BM25) | hybrid (reciprocal-rank fusion).")
    rrf_k: int = Field(60, ge=1, le=10_000, description="Rank constant of reciprocal-rank fusion.")
    weights: Weights | None = Field(None, description="Per-ranking weights for hybrid mode.")
    with_text: bool = False
    with_metadata: bool = False
    with_vector: bool = False

    def to_options(self) -> SearchOptions:
        weights = self.weights or Weights()
        return SearchOptions(
            k=self.k,
            offset=self.offset,
            filter=self.filter,
            mode=self.mode,
            rrf_k=self.rrf_k,
            dense_weight=weights.dense,
            sparse_weight=weights.sparse,
            with_text=self.with_text,
            with_metadata=self.with_metadata,
            with_vector=self.with_vector,
        )


class SearchRequest(SearchOptionsIn):
    query: str | None = Field(None, description="Query text.", examples=["protein folding"])
    vector: list[float] | None = Field(None, description="Or a query vector of the collection's dimension.")


class BatchSearchRequest(SearchOptionsIn):
    queries: list[str] | None = Field(None, description="Query texts, encoded in one batch.")
    vectors: list[list[float]] | None = Field(None, description="Or query vectors.")


class ChunkSpan(BaseModel):
    ordinal: int = Field(description="Which chunk of the document matched.")
    start: int = Field(description="Character offset of the chunk in the document text.")
    end: int


class HitPublic(BaseModel):
    id: str
    score: float
    rank: int
    title: str | None = None
    chunk: ChunkSpan | None = Field(None, description="Best-matching chunk (null for a BM25-only hit).")
    text: str | None = None
    metadata: dict[str, Any] | None = None
    vector: list[float] | None = None
    cluster: int | None = Field(None, description="The hit's cluster in the newest clustering (if any).")

    @classmethod
    def of(cls, hit: Hit, options: SearchOptions) -> HitPublic:
        """Only the optional fields asked for are set, so the others are left out of the JSON."""
        fields: dict[str, Any] = {
            "id": hit.id,
            "score": hit.score,
            "rank": hit.rank,
            "title": hit.title,
            "chunk": hit.chunk,
        }
        if hit.cluster is not None:
            fields["cluster"] = hit.cluster
        if options.with_text:
            fields["text"] = hit.text
        if options.with_metadata:
            fields["metadata"] = hit.metadata
        if options.with_vector:
            fields["vector"] = hit.vector
        return cls(**fields)


class SearchResponse(BaseModel):
    hits: list[HitPublic]
    took_ms: float


class BatchResult(BaseModel):
    hits: list[HitPublic]


class BatchSearchResponse(BaseModel):
    results: list[BatchResult]
    took_ms: float


class NeighborsResponse(BaseModel):
    hits: list[HitPublic]
