"""VAE shapes: training, model list, encode/decode, and grounded generated points."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from latent.vae import TextVAE
from latent.vae.runs import FLOAT_PARAMS, INT_PARAMS, MAX_K, MAX_SAMPLES, MAX_STEPS, Endpoint, Term, VaeModelInfo
from service.schemas.common import Strict

_DEFAULTS = TextVAE().get_params()


def _bounded(name: str, description: str) -> Any:
    """A training field: TextVAE's default, the trainer's own bounds, and what it does."""
    low, high = INT_PARAMS.get(name) or FLOAT_PARAMS[name]
    return Field(_DEFAULTS[name], ge=low, le=high, description=f"{description} ({low}–{high}).")


class VaeCreate(Strict):
    """Every parameter the trainer accepts; each left out takes TextVAE's default."""

    epochs: int = _bounded("epochs", "Training epochs; the epoch with the best validation loss is kept")
    latent_dim: int = _bounded("latent_dim", "Size of the latent space")
    hidden_dim: int = _bounded("hidden_dim", "Hidden layer size of the encoder and the decoder")
    beta: float = _bounded("beta", "Weight of the KL term (lower: sharper reconstructions, rougher samples)")
    batch_size: int = _bounded("batch_size", "Vectors per optimiser step")
    lr: float = _bounded("lr", "Peak learning rate of the one-cycle schedule")
    kl_warmup_epochs: int = _bounded("kl_warmup_epochs", "Epochs over which the KL weight rises to beta")
    free_bits: float = _bounded("free_bits", "Nats per latent dimension the KL term does not penalise")
    noise: float = _bounded("noise", "Standard deviation of the noise added to inputs while training")
    weight_decay: float = _bounded("weight_decay", "AdamW weight decay")
    dropout: float = _bounded("dropout", "Dropout in the encoder and the decoder")
    val_fraction: float = _bounded("val_fraction", "Share of the documents held out for validation")
    prior: Literal["mixture", "gaussian", "standard"] = Field(
        _DEFAULTS["prior"],
        description="Sampling prior: mixture (k-means clusters of the posteriors), gaussian (one fitted "
        "Gaussian) or standard N(0, I).",
    )
    prior_components: int = _bounded("prior_components", "Components of the mixture prior")
    random_state: int | None = Field(
        _DEFAULTS["random_state"],
        ge=0,
        le=2**32 - 1,
        description="Seed of the training (0–4294967295); null: a fresh one each time.",
    )

    model_config = ConfigDict(
        extra="forbid", json_schema_extra={"examples": [{"epochs": 60, "latent_dim": 128, "beta": 0.25}]}
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
    model: int | None = Field(
        None, ge=1, le=2**63 - 1, description="A model id from GET …/vae; the newest when left out."
    )


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
    k: int = Field(5, ge=1, le=MAX_K, description=f"Real neighbours to ground each generated point with (1–{MAX_K}).")
    with_vector: bool = Field(False, description="Include each generated embedding.")
    save: bool = Field(False, description="Keep the generated embeddings as synthetic points (needs a `write` key).")


class InterpolateRequest(GenerateOptions):
    start: EndpointLike
    end: EndpointLike
    steps: int = Field(5, ge=2, le=MAX_STEPS, description=f"Points from start to end, both included (2–{MAX_STEPS}).")
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
    percentile: float = Field(description="Percent of the collection's documents with an ELBO at or below it.")


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
    n: int = Field(10, ge=1, le=MAX_SAMPLES, description=f"How many samples (1–{MAX_SAMPLES}).")
    seed: int | None = Field(
        None, ge=0, le=2**32 - 1, description="The same seed gives the same samples (0–4294967295)."
    )
    anchor: EndpointLike | None = Field(None, description="Sample around this point instead of the prior.")
    temperature: float = Field(1.0, ge=0.0, le=10.0, description="Spread, 0–10 (0: no randomness).")


class Diversity(BaseModel):
    mean_pairwise_cosine: float | None
    real_mean_pairwise_cosine: float | None
    clusters_touched: int | None = Field(description="Clusters of the latest clustering the samples fall in.")


class SampleResponse(BaseModel):
    samples: list[GroundedPoint]
    diversity: Diversity


class TermIn(Strict):
    sign: Literal[1, -1] = 1
    weight: float = Field(1.0, ge=-1e6, le=1e6, description="Scales the term (−1e6–1e6).")
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
        body = {k: v for k, v in (("id", self.id), ("text", self.text), ("vector", self.vector)) if v is not None}
        return Term(sign=self.sign, weight=self.weight, endpoint=Endpoint.parse(body, f"terms[{i}]"))


class ArithmeticRequest(GenerateOptions):
    terms: list[TermIn]


class BridgeRequest(ModelChoice):
    start: EndpointLike
    end: EndpointLike
    k: int = Field(10, ge=2, le=MAX_K, description=f"Longest path (2–{MAX_K} documents).")
    method: Literal["slerp", "lerp"] = "lerp"


class BridgeStep(BaseModel):
    id: str
    title: str | None = None
    t: float
    cosine: float


class BridgeResponse(BaseModel):
    path: list[BridgeStep]
