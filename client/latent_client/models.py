"""The client's own typed shapes of the Latent API (no import of the service): answers and a few inputs.

Answers accept fields this version does not know yet (`extra="allow"`), so a newer server does not break
an older client. Inputs (`Document`, `Example`, `Event`, `Point`, `Term`) refuse unknown fields, as the
server does; plain dicts are accepted everywhere an input is.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import Field

from latent_client._analysis_models import *  # noqa: F403  (re-exported: jobs, clusterings, maps, VAE)
from latent_client._base import Answer as Answer
from latent_client._base import Input as Input

Mode = Literal["dense", "sparse", "hybrid"]
Strategy = Literal["average_vector", "best_score", "sum_scores"]


# ----- inputs -------------------------------------------------------------------------------------------------
class Document(Input):
    id: str
    text: str = ""
    title: str = ""
    metadata: dict[str, Any] = Field(default_factory=dict)
    vector: list[float] | None = Field(None, description="Your own vector: only in a collection without a model.")


class Example(Input):
    """A recommendation example: exactly one of id, text or vector (a plain string means an id)."""

    id: str | None = None
    text: str | None = None
    vector: list[float] | None = None
    weight: float = Field(1.0, gt=0)


class Event(Input):
    id: str = Field(description="The document the user interacted with.")
    kind: str = Field(description="view | click | like | share | purchase | dislike")
    weight: float = Field(1.0, ge=0)
    at: datetime | None = Field(None, description="When (default: now on the server); give a timezone.")


class Point(Input):
    """A VAE endpoint or anchor: exactly one of id, text or vector (a plain string means an id)."""

    id: str | None = None
    text: str | None = None
    vector: list[float] | None = None


class Term(Input):
    """One term of VAE arithmetic: a point, or a filter (the attribute direction of matching documents)."""

    sign: Literal[1, -1] = 1
    weight: float = 1.0
    id: str | None = None
    text: str | None = None
    vector: list[float] | None = None
    filter: dict[str, Any] | None = None


# ----- collections and documents ------------------------------------------------------------------------------
class BackendAgreement(Answer):
    model: str
    reference: str
    candidate: str
    sample: int
    mean_cosine: float
    min_cosine: float


class Collection(Answer):
    name: str
    model: str | None = Field(description="None for a collection without an encoder (bring your own vectors).")
    encoder: bool = True
    backend: str | None
    dimension: int
    metric: str
    index: str
    documents: int
    chunks: int
    chunk_tokens: int
    chunk_overlap: int
    created_at: datetime
    index_stats: dict[str, Any] = Field(default_factory=dict)
    query_backend: str | None = None
    backend_agreement: BackendAgreement | None = None


class CollectionList(Answer):
    data: list[Collection]
    count: int


class Alias(Answer):
    name: str
    collection: str
    created_at: datetime
    updated_at: datetime
    previous: str | None = Field(None, description="After a set: the collection it pointed at before.")


class AliasList(Answer):
    data: list[Alias]
    count: int


class Upserted(Answer):
    upserted: int
    unchanged: int
    metadata_updated: int = 0


class StoredDocument(Answer):
    id: str
    title: str
    text: str
    metadata: dict[str, Any]
    chunk_count: int
    token_count: int
    content_hash: str
    created_at: datetime
    updated_at: datetime


class DocumentList(Answer):
    data: list[StoredDocument]
    count: int = Field(description="Documents matching in total (data holds one page).")


class Deleted(Answer):
    deleted: int


# ----- search -------------------------------------------------------------------------------------------------
class ChunkSpan(Answer):
    ordinal: int
    start: int
    end: int


class Hit(Answer):
    id: str
    score: float
    rank: int
    title: str | None = None
    chunk: ChunkSpan | None = None
    text: str | None = None
    metadata: dict[str, Any] | None = None
    vector: list[float] | None = None
    cluster: int | None = None


class SearchResult(Answer):
    hits: list[Hit]
    took_ms: float


class BatchResult(Answer):
    hits: list[Hit]


class BatchSearchResult(Answer):
    results: list[BatchResult]
    took_ms: float


class Neighbors(Answer):
    hits: list[Hit]


class NeighborsOf(Answer):
    id: str
    hits: list[Hit]


class NeighborsBatch(Answer):
    results: list[NeighborsOf]
    missing: list[str]
    took_ms: float


# ----- recommendations and profiles ---------------------------------------------------------------------------
class EventRef(Answer):
    event_id: int
    kind: str
    weight: float
    at: datetime


class ExplanationEntry(Answer):
    example: str
    similarity: float
    contribution: float
    kinds: dict[str, float] | None = None
    events: list[EventRef] | None = None


class Explanation(Answer):
    positive: list[ExplanationEntry]
    negative: list[ExplanationEntry]


class RecommendHit(Answer):
    id: str
    score: float
    rank: int
    title: str | None = None
    explanation: Explanation
    text: str | None = None
    metadata: dict[str, Any] | None = None
    vector: list[float] | None = None


class DiversityReport(Answer):
    mean_pairwise_similarity: float | None
    without_diversity: float | None


class Recommendations(Answer):
    hits: list[RecommendHit]
    missing: list[str]
    diversity: DiversityReport
    took_ms: float


class RecordedEvent(Answer):
    event_id: int
    id: str
    kind: str
    weight: float
    at: datetime


class EventsRecorded(Answer):
    recorded: int
    events: list[RecordedEvent]


class Profile(Answer):
    user: str
    events: list[RecordedEvent]
    count: int
    counts: dict[str, int]
    documents: int
    missing: list[str]


# ----- embed --------------------------------------------------------------------------------------------------
class Embeddings(Answer):
    model: str
    dimension: int
    vectors: list[list[float]]


class Tokenized(Answer):
    tokens: list[str]
    ids: list[int]
    count: int
    chunked: bool


class Tokenization(Answer):
    model: str
    max_tokens: int
    results: list[Tokenized]


class OpenAIEmbedding(Answer):
    object: str = "embedding"
    index: int
    embedding: list[float] | str


class OpenAIUsage(Answer):
    prompt_tokens: int
    total_tokens: int


class OpenAIEmbeddingList(Answer):
    object: str = "list"
    data: list[OpenAIEmbedding]
    model: str
    usage: OpenAIUsage
