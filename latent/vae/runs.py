"""A collection's text VAEs: training jobs, endpoints and operations.

The stored models (`stored`), the request limits (`limits`) and the grounding of generated vectors
(`grounding`) live beside this module; their public names are re-exported so callers use `vae_runs.*`.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from latent.errors import DocumentNotFound, InvalidInput
from latent.jobs import JobContext, JobFn
from latent.search import SearchOptions, search_many
from latent.store.collection import Collection
from latent.store.feature_models import VaeModelRow
from latent.vae.grounding import clusters_touched, diversity, ground, save_points
from latent.vae.limits import MAX_K, MAX_SAMPLES, MAX_STEPS, check_count
from latent.vae.stored import VaeModelInfo, info_of, list_models, load_model, remember
from latent.vae.train import FLOAT_PARAMS, INT_PARAMS
from latent.vectors import as_vectors

if TYPE_CHECKING:
    from latent.vae import TextVAE

TRAINABLE = (
    "latent_dim",
    "hidden_dim",
    "beta",
    "epochs",
    "batch_size",
    "lr",
    "kl_warmup_epochs",
    "free_bits",
    "noise",
    "weight_decay",
    "dropout",
    "val_fraction",
    "prior",
    "prior_components",
    "random_state",
)
__all__ = [
    "TRAINABLE", "INT_PARAMS", "FLOAT_PARAMS", "MAX_K", "MAX_SAMPLES", "MAX_STEPS", "VaeModelInfo", "Endpoint",
    "Term", "check_params", "train_job", "train", "list_models", "load_model", "resolve", "encode", "decode",
    "interpolate", "sample", "arithmetic", "attribute_direction", "bridge", "ground", "diversity",
    "clusters_touched", "save_points",
]  # fmt: skip


@dataclass(slots=True)
class Endpoint:
    """A point to start from: a stored document id, a text to embed, or a raw vector (exactly one)."""

    id: str | None = None
    text: str | None = None
    vector: list[float] | None = None

    @classmethod
    def parse(cls, value: Any, name: str = "endpoint") -> Endpoint:
        """A plain string is a stored id; a dict names one of id / text / vector."""
        if isinstance(value, Endpoint):
            return value
        if isinstance(value, str):
            value = {"id": value}
        if not isinstance(value, dict):
            raise InvalidInput(f"{name} must be an id or an object with id, text or vector", details={"argument": name})
        given = [k for k in ("id", "text", "vector") if value.get(k) is not None]
        if len(given) != 1 or set(value) - {"id", "text", "vector"}:
            raise InvalidInput(f"{name} must give exactly one of id, text or vector", details={"argument": name})
        if given[0] in ("id", "text") and (not isinstance(value[given[0]], str) or not value[given[0]].strip()):
            raise InvalidInput(f"{name}.{given[0]} must be a non-empty string", details={"argument": name})
        return cls(**{given[0]: value[given[0]]})


@dataclass(slots=True)
class Term:
    """One signed arithmetic term: an endpoint, or (filter) the attribute direction of matching documents."""

    sign: float = 1.0
    weight: float = 1.0
    endpoint: Endpoint | None = None
    filter: dict[str, Any] | None = field(default=None)


_UNIT = {"normalise": True, "allow_zero": False}  # endpoints are directions: unit length, never zero

# -- training ------------------------------------------------------------------------------------------


def check_params(params: dict[str, Any] | None) -> dict[str, Any]:
    """The training parameters, validated now so bad ones fail the request, not the job."""
    from latent.vae import PRIORS, TextVAE
    from latent.vae.train import make_config

    params = dict(params or {})
    unknown = sorted(set(params) - set(TRAINABLE))
    if unknown:
        raise InvalidInput(
            f"unknown VAE parameters: {', '.join(unknown)}; known: {', '.join(TRAINABLE)}",
            code="invalid_params",
            details={"unknown": unknown},
        )
    model = TextVAE(**params)
    make_config(model.get_params(), 0, PRIORS)
    return model.get_params()


def train_job(collection: Collection, params: dict[str, Any] | None) -> JobFn:
    """A job function (for JobManager.submit or run_inline) that trains, saves and records one model."""
    full = check_params(params)

    def run(ctx: JobContext) -> dict[str, Any]:
        return {"model_id": train(collection, full, ctx).id}

    return run


def train(collection: Collection, params: dict[str, Any], ctx: JobContext) -> VaeModelInfo:
    """Fit a TextVAE on the collection's document vectors, save it under collection.dir/vae, add its row."""
    from latent.vae import TextVAE
    from latent.vae.ops import mean_pairwise_cosine

    ctx.progress(0.0, "reading document vectors")
    _, vectors = collection.all_document_vectors()
    if len(vectors) < 4:
        raise InvalidInput(
            f"collection {collection.name!r} needs at least 4 documents to train a VAE",
            code="too_few_documents",
            details={"documents": len(vectors)},
        )
    model = TextVAE(**params)

    model.fit(vectors, progress=lambda done, message: ctx.progress(0.9 * done, message), should_stop=ctx.should_stop)
    ctx.progress(0.95, "saving the model")
    pick = np.random.default_rng(0).permutation(len(vectors))[:2000]
    metrics = dict(
        model.metrics_,
        real_mean_pairwise_cosine=mean_pairwise_cosine(vectors[pick]),
        documents=int(len(vectors)),
    )
    stamp = datetime.now().strftime("%Y%m%dT%H%M%S")
    path = Path(collection.dir) / "vae" / f"vae-{stamp}-{uuid.uuid4().hex[:8]}.pt"
    model.save(path)
    try:
        with collection.sessions() as s, s.begin():
            row = VaeModelRow(collection_id=collection.id, params=params, metrics=metrics, path=str(path))
            s.add(row)
            s.flush()
            info = info_of(row)
    except BaseException:
        path.unlink(missing_ok=True)
        raise
    remember(info.path, model)
    return info


# -- endpoints -----------------------------------------------------------------------------------------


def resolve(collection: Collection, endpoints: Sequence[Endpoint]) -> np.ndarray:
    """Unit vectors (n, d) for endpoints; unknown ids → 404 naming them, wrong width → DimensionMismatch."""
    ids = [e.id for e in endpoints if e.id is not None]
    stored = collection.document_vectors(ids) if ids else {}
    missing = [i for i in dict.fromkeys(ids) if i not in stored]
    if missing:
        raise DocumentNotFound(missing, collection.name)
    texts = [e.text for e in endpoints if e.text is not None]
    encoded = iter(collection.query_encoder.encode(texts)) if texts else iter(())
    rows = []
    for i, e in enumerate(endpoints):
        if e.id is not None:
            rows.append(stored[e.id])
        elif e.text is not None:
            rows.append(next(encoded))
        else:
            rows.append(as_vectors(e.vector, collection.dimension, name=f"endpoint {i} vector", **_UNIT)[0])
    return as_vectors(np.vstack(rows), collection.dimension, name="endpoints", **_UNIT)


# -- operations ----------------------------------------------------------------------------------------


def encode(collection: Collection, model: TextVAE, endpoints: Sequence[Endpoint]) -> tuple[np.ndarray, np.ndarray]:
    """Posterior mean and standard deviation of each endpoint."""
    check_count(len(endpoints), "inputs", MAX_SAMPLES)
    return model.encode(resolve(collection, endpoints))


def decode(model: TextVAE, z: Any) -> np.ndarray:
    """Unit embeddings for latent points."""
    if isinstance(z, Sequence) and not isinstance(z, str):
        check_count(len(z), "z", MAX_SAMPLES)
    return model.decode(z)


def interpolate(
    collection: Collection,
    model: TextVAE,
    start: Endpoint,
    end: Endpoint,
    steps: int = 5,
    method: str = "slerp",
) -> tuple[np.ndarray, np.ndarray]:
    """(t, vectors): `steps` points from start to end (both included)."""
    steps = check_count(steps, "steps", MAX_STEPS, minimum=2)
    ends = resolve(collection, [start, end])
    return np.linspace(0.0, 1.0, steps), model.interpolate(ends[0], ends[1], steps, method)


def sample(
    collection: Collection,
    model: TextVAE,
    n: int,
    seed: int | None = None,
    anchor: Endpoint | None = None,
    temperature: float = 1.0,
) -> np.ndarray:
    """`n` generated embeddings from the prior or around an anchor; the same seed gives the same ones."""
    n = check_count(n, "n", MAX_SAMPLES)
    vector = resolve(collection, [anchor])[0] if anchor is not None else None
    return model.sample(n, seed=seed, anchor=vector, temperature=temperature)


def arithmetic(collection: Collection, model: TextVAE, terms: Sequence[Term]) -> np.ndarray:
    """Decode Σ sign·weight·μ(term), a filter term contributing its attribute direction (with − without)."""
    if not terms:
        raise InvalidInput("arithmetic needs at least one term", details={"argument": "terms"})
    check_count(len(terms), "terms", MAX_K)
    for i, t in enumerate(terms):
        if (t.endpoint is None) == (t.filter is None):
            raise InvalidInput(f"term {i} must give one of id, text, vector or filter", details={"term": i})
        if not np.isfinite(t.sign * t.weight):
            raise InvalidInput(f"term {i} has a non-finite sign or weight", details={"term": i})
    z = np.zeros(model.latent_dim, dtype=np.float64)
    points = [t for t in terms if t.endpoint is not None]
    if points:
        mu, _ = model.encode(resolve(collection, [t.endpoint for t in points]))
        z += np.asarray([t.sign * t.weight for t in points]) @ mu.astype(np.float64)
    for t in terms:
        if t.filter is not None:
            z += t.sign * t.weight * attribute_direction(collection, model, t.filter)
    return model.decode(z[None, :].astype(np.float32))[0]


def attribute_direction(collection: Collection, model: TextVAE, filter: dict[str, Any]) -> np.ndarray:
    """Latent mean of documents the filter keeps minus that of the rest."""
    allowed = collection.allowed_vector_ids(filter)
    if allowed is None:
        raise InvalidInput("an attribute filter must not be empty", code="invalid_filter", details={"filter": filter})
    keep = {span.external_id for span in collection.chunk_documents(allowed.tolist()).values()}
    ids, vectors = collection.all_document_vectors()
    mask = np.asarray([i in keep for i in ids], dtype=bool)
    if not mask.any() or mask.all():
        raise InvalidInput(
            f"the filter matches {'no' if not mask.any() else 'every'} document; a direction needs both sides",
            code="invalid_filter",
            details={"filter": filter, "matching": int(mask.sum())},
        )
    return model.attribute_direction(vectors[mask], vectors[~mask]).astype(np.float64)


def bridge(
    collection: Collection, model: TextVAE, start: Endpoint, end: Endpoint, k: int = 10, method: str = "lerp"
) -> list[dict[str, Any]]:
    """A reading path: the real documents nearest the interpolation path, deduplicated and ordered by t.

    The path's ends are the endpoints themselves, so its first and last documents are their nearest ones.
    """
    k = check_count(k, "k", MAX_K, minimum=2)
    ends = resolve(collection, [start, end])
    steps = min(MAX_STEPS, max(3 * k, 9))
    t = np.linspace(0.0, 1.0, steps)
    points = model.interpolate(ends[0], ends[1], steps, method).copy()
    points[0], points[-1] = ends[0], ends[-1]
    hits = search_many(collection, vectors=list(points), options=SearchOptions(k=1))
    best: dict[str, dict[str, Any]] = {}
    for ti, row in zip(t, hits, strict=True):
        if row and (row[0].id not in best or row[0].score > best[row[0].id]["cosine"]):
            best[row[0].id] = {
                "id": row[0].id,
                "title": row[0].title,
                "t": float(ti),
                "cosine": float(row[0].score),
            }
    path = sorted(best.values(), key=lambda p: p["t"])
    if len(path) > k:  # keep both ends and evenly spaced documents between them
        keep = np.unique(np.round(np.linspace(0, len(path) - 1, k)).astype(int))
        path = [path[i] for i in keep]
    return path
