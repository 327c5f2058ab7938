"""VAE shapes: training, model list, encode/decode, and grounded generated points."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, Field

from latent.vae.runs import Endpoint, Term, VaeModelInfo
from service.schemas.common import Strict


class VaeCreate(Strict):
    params: dict[str, Any] = Field(
        default_factory=dict,
        description="TextVAE parameters: latent_dim, hidden_dim, beta, epochs, batch_size, lr, "
        "kl_warmup_epochs, free_bits, noise, weight_decay, dropout, val_fraction, prior, "
        "prior_components, random_state.",
        examples=[{"latent_dim": 64, "hidden_dim": 512, "beta": 0.25, "epochs": 60}],
    )


class VaePublic(BaseModel):
    id: int
    params: dict[str, Any]
    metrics: dict[str, Any]
    created_at: datetime

    @classmethod
    def of(cls, info: VaeModelInfo) -> VaePublic:
        return cls(id=info.id, params=info.params, metrics=info.metrics, created_at=info.created_at)


class VaeList(BaseModel):
    data: list[VaePublic]
    count: int


class EndpointIn(Strict):
    """Exactly one of id, text, vector (a plain string is taken as an id)."""

    id: str | None = None
    text: str | None = None
    vector: list[float] | None = None


EndpointLike = str | EndpointIn


def to_endpoint(value: EndpointLike, name: str) -> Endpoint:
    return Endpoint.parse(value if isinstance(value, str) else value.model_dump(exclude_none=True), name)


class ModelChoice(Strict):
    model: int | None = Field(None, description="A model id from GET …/vae; the newest when left out.")


class EncodeRequest(ModelChoice):
    texts: list[str] | None = None
    ids: list[str] | None = None
    vectors: list[list[float]] | None = None

    def endpoints(self) -> list[Endpoint]:
        given = [n for n in ("texts", "ids", "vectors") if getattr(self, n) is not None]
        if len(given) != 1:
            from latent.errors import InvalidInput

            raise InvalidInput("give exactly one of texts, ids or vectors", details={"given": given})
        key = {"texts": "text", "ids": "id", "vectors": "vector"}[given[0]]
        return [Endpoint.parse({key: v}, f"{given[0]}[{i}]") for i, v in enumerate(getattr(self, given[0]))]


class EncodeResponse(BaseModel):
    mu: list[list[float]]
    sigma: list[list[float]]


class DecodeRequest(ModelChoice):
    z: list[list[float]] = Field(description="Latent points, each of the model's latent_dim.")


class DecodeResponse(BaseModel):
    vectors: list[list[float]]


class GenerateOptions(ModelChoice):
    k: int = Field(5, description="Real neighbours to ground each generated point with.")
    with_vector: bool = Field(False, description="Include each generated embedding.")
    save: bool = Field(False, description="Keep the generated embeddings as synthetic points.")


class InterpolateRequest(GenerateOptions):
    start: EndpointLike
    end: EndpointLike
    steps: int = Field(5, description="Points from start to end, both included (2–100).")
    method: Literal["slerp", "lerp"] = Field(
        "slerp",
        description="slerp: great circle between the embeddings; lerp: straight line in latent space.",
    )


class Neighbor(BaseModel):
    id: str
    title: str | None = None
    cosine: float


class Plausibility(BaseModel):
    elbo: float = Field(description="Evidence lower bound on log-density under the model (nats).")
    percentile: float = Field(
        description="Percent of the collection's documents with an ELBO at or below it."
    )


class Position(BaseModel):
    x: float
    y: float


class GroundedPoint(BaseModel):
    vector: list[float] | None = None
    neighbors: list[Neighbor]
    novelty: float = Field(description="1 - cosine of the nearest real document.")
    plausibility: Plausibility
    position: Position | None = Field(None, description="On the collection's current map, when there is one.")
    synthetic_id: int | None = Field(None, description="Id of the stored synthetic point (save: true).")


class InterpolatedPoint(GroundedPoint):
    t: float


class InterpolateResponse(BaseModel):
    steps: list[InterpolatedPoint]


class SampleRequest(GenerateOptions):
    n: int = Field(10, description="How many samples (1–1000).")
    seed: int | None = Field(None, description="The same seed gives the same samples.")
    anchor: EndpointLike | None = Field(None, description="Sample around this point instead of the prior.")
    temperature: float = Field(1.0, description="Spread, 0–10 (0: no randomness).")


class Diversity(BaseModel):
    mean_pairwise_cosine: float | None
    real_mean_pairwise_cosine: float | None
    clusters_touched: int | None = Field(description="Clusters of the latest clustering the samples fall in.")


class SampleResponse(BaseModel):
    samples: list[GroundedPoint]
    diversity: Diversity


class TermIn(Strict):
    sign: Literal[1, -1] = 1
    weight: float = Field(1.0, description="Scales the term.")
    id: str | None = None
    text: str | None = None
    vector: list[float] | None = None
    filter: dict[str, Any] | None = Field(
        None, description="Attribute direction: documents matching the filter minus the rest."
    )

    def to_term(self, i: int) -> Term:
        if self.filter is not None:
            if any(v is not None for v in (self.id, self.text, self.vector)):
                from latent.errors import InvalidInput

                raise InvalidInput(f"term {i} mixes a filter with an id, text or vector", details={"term": i})
            return Term(sign=self.sign, weight=self.weight, filter=self.filter)
        body = {
            k: v for k, v in (("id", self.id), ("text", self.text), ("vector", self.vector)) if v is not None
        }
        return Term(sign=self.sign, weight=self.weight, endpoint=Endpoint.parse(body, f"terms[{i}]"))


class ArithmeticRequest(GenerateOptions):
    terms: list[TermIn]


class BridgeRequest(ModelChoice):
    start: EndpointLike
    end: EndpointLike
    k: int = Field(10, description="Longest path (2–100 documents).")
    method: Literal["slerp", "lerp"] = "lerp"


class BridgeStep(BaseModel):
    id: str
    title: str | None = None
    t: float
    cosine: float


class BridgeResponse(BaseModel):
    path: list[BridgeStep]
