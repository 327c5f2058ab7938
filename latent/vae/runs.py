"""A collection's text VAEs: training jobs, stored models, endpoints and operations (grounding: vae_grounding)."""

from __future__ import annotations

import threading
import uuid
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
from sqlalchemy import select

from latent.errors import Conflict, DocumentNotFound, InvalidInput, NotFound
from latent.jobs import JobCancelled, JobContext, JobFn
from latent.search import SearchOptions, search_many
from latent.store.collection import Collection
from latent.store.feature_models import VaeModelRow
from latent.vae.grounding import clusters_touched as clusters_touched  # re-exported: callers use vae_runs.*
from latent.vae.grounding import diversity as diversity
from latent.vae.grounding import ground as ground
from latent.vae.grounding import save_points as save_points

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
MAX_STEPS = 100
MAX_SAMPLES = 1000
MAX_K = 100
_CACHE_SIZE = 8
_cache: OrderedDict[str, TextVAE] = OrderedDict()  # by checkpoint path: unique per model
_cache_lock = threading.Lock()


@dataclass(slots=True)
class VaeModelInfo:
    id: int
    params: dict[str, Any]
    metrics: dict[str, Any]
    path: str
    created_at: datetime


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
            raise InvalidInput(
                f"{name} must be an id or an object with id, text or vector", details={"argument": name}
            )
        given = [k for k in ("id", "text", "vector") if value.get(k) is not None]
        if len(given) != 1 or set(value) - {"id", "text", "vector"}:
            raise InvalidInput(
                f"{name} must give exactly one of id, text or vector", details={"argument": name}
            )
        if given[0] in ("id", "text") and (
            not isinstance(value[given[0]], str) or not value[given[0]].strip()
        ):
            raise InvalidInput(f"{name}.{given[0]} must be a non-empty string", details={"argument": name})
        return cls(**{given[0]: value[given[0]]})


@dataclass(slots=True)
class Term:
    """One signed arithmetic term: an endpoint, or (filter) the attribute direction of matching documents."""

    sign: float = 1.0
    weight: float = 1.0
    endpoint: Endpoint | None = None
    filter: dict[str, Any] | None = field(default=None)


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
    from latent.vae import TextVAE, TrainingCancelled
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

    def report(epoch: dict[str, Any]) -> None:
        ctx.progress(
            0.9 * epoch["epoch"] / epoch["epochs"],
            f"epoch {epoch['epoch']}/{epoch['epochs']} loss {epoch['loss']:.4f} "
            f"recon_cosine {epoch['recon_cosine']:.4f} kl {epoch['kl']:.3f} "
            f"val_recon_cosine {epoch['val_recon_cosine']:.4f}",
        )

    try:
        model.fit(vectors, progress=report, should_stop=ctx.should_stop)
    except TrainingCancelled:
        raise JobCancelled() from None
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
            info = _info(row)
    except BaseException:
        path.unlink(missing_ok=True)
        raise
    _remember(info.path, model)
    return info


# -- stored models -------------------------------------------------------------------------------------


def list_models(collection: Collection) -> list[VaeModelInfo]:
    """The collection's trained models, newest first."""
    with collection.sessions() as s:
        rows = s.scalars(
            select(VaeModelRow)
            .where(VaeModelRow.collection_id == collection.id)
            .order_by(VaeModelRow.id.desc())
        ).all()
        return [_info(r) for r in rows]


def load_model(collection: Collection, model: int | str | None = None) -> tuple[VaeModelInfo, TextVAE]:
    """The named model (by id) or the newest; 409 vae_not_trained with how to train when there is none."""
    from latent.vae import TextVAE

    with collection.sessions() as s:
        stmt = select(VaeModelRow).where(VaeModelRow.collection_id == collection.id)
        if model is None:
            row = s.scalars(stmt.order_by(VaeModelRow.id.desc()).limit(1)).first()
            if row is None:
                raise Conflict(
                    f"collection {collection.name!r} has no trained VAE yet: train one with "
                    f"POST /v1/collections/{collection.name}/vae or "
                    f"`latent train-vae --collection {collection.name}`",
                    code="vae_not_trained",
                    details={"collection": collection.name},
                )
        else:
            try:
                model_id = int(model)
            except (TypeError, ValueError):
                raise InvalidInput(
                    f"model must be a model id, got {model!r}", details={"model": model}
                ) from None
            row = s.scalars(stmt.where(VaeModelRow.id == model_id)).first()
            if row is None:
                raise NotFound(
                    f"VAE model {model_id} does not exist in collection {collection.name!r}",
                    code="vae_model_not_found",
                    details={"model": model_id, "collection": collection.name},
                )
        info = _info(row)
    with _cache_lock:
        cached = _cache.get(info.path)
        if cached is not None:
            _cache.move_to_end(info.path)
            return info, cached
    loaded = TextVAE.load(info.path)
    _remember(info.path, loaded)
    return info, loaded


def _remember(path: str, model: TextVAE) -> None:
    with _cache_lock:
        _cache[path] = model
        _cache.move_to_end(path)
        while len(_cache) > _CACHE_SIZE:
            _cache.popitem(last=False)


def _info(row: VaeModelRow) -> VaeModelInfo:
    return VaeModelInfo(
        id=row.id,
        params=dict(row.params or {}),
        metrics=dict(row.metrics or {}),
        path=row.path,
        created_at=row.created_at,
    )


# -- endpoints -----------------------------------------------------------------------------------------


def resolve(collection: Collection, endpoints: Sequence[Endpoint]) -> np.ndarray:
    """Unit vectors (n, d) for endpoints; unknown ids → 404 naming them, wrong width → DimensionMismatch."""
    from latent.vae.ops import as_matrix

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
            rows.append(as_matrix(e.vector, collection.dimension, f"endpoint {i} vector")[0])
    return as_matrix(np.vstack(rows), collection.dimension, "endpoints")


# -- operations ----------------------------------------------------------------------------------------


def encode(
    collection: Collection, model: TextVAE, endpoints: Sequence[Endpoint]
) -> tuple[np.ndarray, np.ndarray]:
    """Posterior mean and standard deviation of each endpoint."""
    _check_count(len(endpoints), "inputs", MAX_SAMPLES)
    return model.encode(resolve(collection, endpoints))


def decode(model: TextVAE, z: Any) -> np.ndarray:
    """Unit embeddings for latent points."""
    if isinstance(z, Sequence) and not isinstance(z, str):
        _check_count(len(z), "z", MAX_SAMPLES)
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
    from latent.vae.ops import check_positive_int

    steps = check_positive_int(steps, "steps", minimum=2, maximum=MAX_STEPS)
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
    n = _check_count(n, "n", MAX_SAMPLES)
    vector = resolve(collection, [anchor])[0] if anchor is not None else None
    return model.sample(n, seed=seed, anchor=vector, temperature=temperature)


def arithmetic(collection: Collection, model: TextVAE, terms: Sequence[Term]) -> np.ndarray:
    """Decode Σ sign·weight·μ(term), a filter term contributing its attribute direction (with − without)."""
    if not terms:
        raise InvalidInput("arithmetic needs at least one term", details={"argument": "terms"})
    _check_count(len(terms), "terms", MAX_K)
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
        raise InvalidInput(
            "an attribute filter must not be empty", code="invalid_filter", details={"filter": filter}
        )
    keep = {info[1] for info in collection.chunk_documents(allowed.tolist()).values()}
    ids, vectors = collection.all_document_vectors()
    mask = np.asarray([i in keep for i in ids], dtype=bool)
    if not mask.any() or mask.all():
        raise InvalidInput(
            f"the filter matches {'no' if not mask.any() else 'every'} document; "
            "a direction needs both sides",
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
    k = _check_count(k, "k", MAX_K, minimum=2)
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


def _check_count(value: Any, name: str, maximum: int, minimum: int = 1) -> int:
    from latent.vae.ops import check_positive_int

    return check_positive_int(value, name, minimum=minimum, maximum=maximum)
