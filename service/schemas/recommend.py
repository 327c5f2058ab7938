"""Recommendation shapes: examples, explained hits, batch neighbours, profile events and profiles."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, Field, model_validator

from latent.recommend.profiles import EventInput, Profile, ProfileEvent
from latent.recommend.runs import ExampleSpec, Flags, Recommendation
from latent.records import Hit
from service.schemas.common import Strict
from service.schemas.search import HitPublic

Strategy = Literal["average_vector", "best_score", "sum_scores"]


class ExampleIn(Strict):
    """Exactly one of id, text or vector, with an optional weight."""

    id: str | None = Field(None, description="A stored document id.")
    text: str | None = Field(None, description="A text, embedded with the collection's model.")
    vector: list[float] | None = Field(None, description="A raw vector of the collection's dimension.")
    weight: float = Field(1.0, gt=0, description="How much this example counts (> 0).")

    @model_validator(mode="after")
    def _one_of(self) -> ExampleIn:
        given = [name for name in ("id", "text", "vector") if getattr(self, name) is not None]
        if len(given) != 1:
            raise ValueError(f"give exactly one of 'id', 'text' or 'vector' (got {given or 'none'})")
        return self

    def to_spec(self) -> ExampleSpec:
        return ExampleSpec(id=self.id, text=self.text, vector=self.vector, weight=self.weight)


Example = str | ExampleIn


def to_spec(example: Example) -> ExampleSpec:
    return ExampleSpec(id=example) if isinstance(example, str) else example.to_spec()


class HitFlags(Strict):
    with_text: bool = False
    with_metadata: bool = False
    with_vector: bool = Field(False, description="Add each hit's document vector (mean of its chunks).")

    def to_flags(self) -> Flags:
        return Flags(self.with_text, self.with_metadata, self.with_vector)


class RecommendRequest(HitFlags):
    positive: list[Example] = Field(
        default_factory=list,
        description='Examples to move towards: "doc-id" or {"id"|"text"|"vector": …, "weight": 1.0}.',
        examples=[["doc-1", {"text": "protein folding", "weight": 2.0}]],
    )
    negative: list[Example] = Field(default_factory=list, description="Examples to move away from.")
    strategy: Strategy = Field(
        "average_vector",
        description="average_vector (one search for the weighted average), best_score (best positive, "
        "penalised near a negative, as Qdrant), sum_scores (positive minus negative similarities).",
    )
    k: int = Field(10, description="Hits to return (1..max_k).")
    filter: dict[str, Any] | None = Field(None, description="Metadata pre-filter, as in search.")
    exclude: list[str] = Field(default_factory=list, description="Document ids never to return.")
    exclude_examples: bool = Field(True, description="Never return the stored examples themselves.")
    diversity: float = Field(
        0.0, ge=0.0, le=1.0, description="0 = pure relevance … 1 = pure novelty (maximal marginal relevance)."
    )
    missing: Literal["error", "ignore"] = Field(
        "error", description="Unknown stored ids: error (404 naming them) or ignore (skip and list them)."
    )

    def specs(self) -> tuple[list[ExampleSpec], list[ExampleSpec]]:
        return [to_spec(e) for e in self.positive], [to_spec(e) for e in self.negative]


class EventRef(BaseModel):
    event_id: int
    kind: str
    weight: float
    at: datetime


class ExplanationEntry(BaseModel):
    example: str = Field(description="The example: a document id, 'text:…', 'vector#i', or a profile document.")
    similarity: float = Field(description="Cosine between the example and the hit's document vector.")
    contribution: float = Field(description="Its share of the score (negative for a negative example).")
    kinds: dict[str, float] | None = Field(None, description="Profiles: decayed weight per event kind.")
    events: list[EventRef] | None = Field(None, description="Profiles: the latest events on that document.")


class Explanation(BaseModel):
    positive: list[ExplanationEntry] = Field(description="The positives that contributed most, best first.")
    negative: list[ExplanationEntry] = Field(description="The negative that pulled the hit down most, if any.")


class RecommendHitPublic(BaseModel):
    id: str
    score: float
    rank: int
    title: str | None = None
    explanation: Explanation
    text: str | None = None
    metadata: dict[str, Any] | None = None
    vector: list[float] | None = None

    @classmethod
    def of(cls, hit: Hit, flags: Flags) -> RecommendHitPublic:
        fields: dict[str, Any] = {
            "id": hit.id,
            "score": hit.score,
            "rank": hit.rank,
            "title": hit.title,
            "explanation": hit.explanation,
        }
        if flags.with_text:
            fields["text"] = hit.text
        if flags.with_metadata:
            fields["metadata"] = hit.metadata
        if flags.with_vector:
            fields["vector"] = hit.vector
        return cls(**fields)


class DiversityReport(BaseModel):
    mean_pairwise_similarity: float | None = Field(description="Mean cosine between the returned hits.")
    without_diversity: float | None = Field(description="The same for the plain top-k of the same pool.")


class RecommendResponse(BaseModel):
    hits: list[RecommendHitPublic]
    missing: list[str] = Field(description="Stored ids that do not exist (missing=ignore; profiles: deleted).")
    diversity: DiversityReport
    took_ms: float

    @classmethod
    def of(cls, result: Recommendation, flags: Flags, took_ms: float) -> RecommendResponse:
        return cls(
            hits=[RecommendHitPublic.of(h, flags) for h in result.hits],
            missing=result.missing,
            diversity=DiversityReport(**result.diversity),
            took_ms=took_ms,
        )


class NeighborsBatchRequest(Strict):
    ids: list[str] = Field(description="Stored document ids.", examples=[["doc-1", "doc-2"]])
    k: int = Field(10, description="Neighbours per id (1..max_k).")
    filter: dict[str, Any] | None = Field(None, description="Metadata pre-filter on the neighbours.")


class NeighborsBatchResult(BaseModel):
    id: str
    hits: list[HitPublic]


class NeighborsBatchResponse(BaseModel):
    results: list[NeighborsBatchResult]
    missing: list[str] = Field(description="Asked-for ids that do not exist.")
    took_ms: float


# ----- profiles ----------------------------------------------------------------------------------
class EventIn(Strict):
    id: str = Field(description="The document the user interacted with.", examples=["doc-1"])
    kind: str = Field(description="view | click | like | share | purchase | dislike", examples=["like"])
    weight: float = Field(1.0, description="Multiplies the kind's weight (>= 0).")
    at: datetime | None = Field(None, description="ISO time (default now; naive times are UTC).")

    def to_input(self) -> EventInput:
        return EventInput(id=self.id, kind=self.kind, weight=self.weight, at=self.at)


class EventsIn(Strict):
    events: list[EventIn]


class EventPublic(BaseModel):
    event_id: int
    id: str = Field(description="The document.")
    kind: str
    weight: float
    at: datetime

    @classmethod
    def of(cls, event: ProfileEvent) -> EventPublic:
        return cls(event_id=event.event_id, id=event.id, kind=event.kind, weight=event.weight, at=event.at)


class EventsRecorded(BaseModel):
    recorded: int
    events: list[EventPublic]


class ProfilePublic(BaseModel):
    user: str
    events: list[EventPublic] = Field(description="One page of events, newest first.")
    count: int = Field(description="Events in all.")
    counts: dict[str, int] = Field(description="Events per kind.")
    documents: int = Field(description="Distinct documents in the profile.")
    missing: list[str] = Field(description="Profile documents deleted from the collection since.")

    @classmethod
    def of(cls, profile: Profile) -> ProfilePublic:
        return cls(
            user=profile.user,
            events=[EventPublic.of(e) for e in profile.events],
            count=profile.count,
            counts=profile.counts,
            documents=profile.documents,
            missing=profile.missing,
        )


class ProfileDeleted(BaseModel):
    deleted: int = Field(description="How many events were deleted.")
