"""Text VAE routes: train (a job), list models, encode/decode, interpolate, sample, arithmetic, bridge."""

from __future__ import annotations

from typing import Any

import numpy as np
from fastapi import APIRouter, Request, status

from latent.jobs import JobContext
from latent.store.collection import Collection
from latent.vae import runs as vae_runs
from latent.vae.runs import VaeModelInfo
from service.auth import Read, Write
from service.deps import CollectionDep, JobsDep, require_scope, start_job
from service.schemas.jobs import JobPublic
from service.schemas.vae import (
    ArithmeticRequest,
    BridgeRequest,
    BridgeResponse,
    DecodeRequest,
    DecodeResponse,
    EncodeRequest,
    EncodeResponse,
    GroundedPoint,
    InterpolateRequest,
    InterpolateResponse,
    SampleRequest,
    SampleResponse,
    VaeCreate,
    VaeList,
    VaePublic,
    to_endpoint,
)

router = APIRouter(prefix="/v1/collections/{name}", tags=["vae"])


@router.post("/vae", name="train", dependencies=[Write], status_code=status.HTTP_202_ACCEPTED)
def train_vae(body: VaeCreate, collection: CollectionDep, jobs: JobsDep) -> JobPublic:
    """Start training a VAE (a job); poll GET /v1/jobs/{id}: on success `result` is {"model_id"}."""
    params = vae_runs.check_params(body.model_dump())
    return start_job(jobs, "vae", collection, params, _train, result="model_id")


def _train(collection: Collection, params: dict[str, Any], ctx: JobContext) -> int:
    return vae_runs.train(collection, params, ctx).id


@router.get("/vae", name="list", dependencies=[Read])
def list_vaes(collection: CollectionDep) -> VaeList:
    """Trained models, newest first, with their metrics."""
    data = [VaePublic.of(m) for m in vae_runs.list_models(collection)]
    return VaeList(data=data, count=len(data))


@router.post("/vae/encode", name="encode", dependencies=[Read])
def encode(body: EncodeRequest, collection: CollectionDep) -> EncodeResponse:
    """Posterior mean μ and standard deviation σ of texts, stored ids or vectors."""
    _, model = vae_runs.load_model(collection, body.model)
    mu, sigma = vae_runs.encode(collection, model, body.endpoints())
    return EncodeResponse(mu=mu.tolist(), sigma=sigma.tolist())


@router.post("/vae/decode", name="decode", dependencies=[Read])
def decode(body: DecodeRequest, collection: CollectionDep) -> DecodeResponse:
    """Unit embeddings for latent points."""
    _, model = vae_runs.load_model(collection, body.model)
    return DecodeResponse(vectors=vae_runs.decode(model, body.z).tolist())


@router.post("/vae/interpolate", name="interpolate", dependencies=[Read], response_model_exclude_unset=True)
def interpolate(body: InterpolateRequest, collection: CollectionDep, request: Request) -> InterpolateResponse:
    """Points from start to end, each grounded in its nearest real documents (`save: true` needs `write`)."""
    _check_save(request, body.save)
    info, model = vae_runs.load_model(collection, body.model)
    start, end = to_endpoint(body.start, "start"), to_endpoint(body.end, "end")
    t, vectors = vae_runs.interpolate(collection, model, start, end, body.steps, body.method)
    provenance = [{"op": "interpolate", "method": body.method, "t": float(x)} for x in t]
    points = _grounded(collection, info, model, vectors, body.k, body.with_vector, body.save, provenance)
    return InterpolateResponse(steps=[{**p, "t": float(x)} for p, x in zip(points, t, strict=True)])


@router.post("/vae/sample", name="sample", dependencies=[Read], response_model_exclude_unset=True)
def sample(body: SampleRequest, collection: CollectionDep, request: Request) -> SampleResponse:
    """New embeddings from the prior (or around an anchor), grounded, with their diversity (`save` needs `write`)."""
    _check_save(request, body.save)
    info, model = vae_runs.load_model(collection, body.model)
    anchor = to_endpoint(body.anchor, "anchor") if body.anchor is not None else None
    vectors = vae_runs.sample(collection, model, body.n, body.seed, anchor, body.temperature)
    provenance = [
        {"op": "sample", "seed": body.seed, "index": i, "temperature": body.temperature} for i in range(len(vectors))
    ]
    points = _grounded(collection, info, model, vectors, body.k, body.with_vector, body.save, provenance)
    diversity = vae_runs.diversity(collection, info, vectors)
    return SampleResponse(samples=points, diversity=diversity)


@router.post("/vae/arithmetic", name="arithmetic", dependencies=[Read], response_model_exclude_unset=True)
def arithmetic(body: ArithmeticRequest, collection: CollectionDep, request: Request) -> GroundedPoint:
    """Decode a signed sum of terms in latent space (a filter term adds an attribute direction).

    `save: true` needs a `write` key.
    """
    _check_save(request, body.save)
    info, model = vae_runs.load_model(collection, body.model)
    terms = [t.to_term(i) for i, t in enumerate(body.terms)]
    vector = vae_runs.arithmetic(collection, model, terms)[None, :]
    provenance = [{"op": "arithmetic", "terms": [t.model_dump(exclude_none=True) for t in body.terms]}]
    return GroundedPoint(
        **_grounded(collection, info, model, vector, body.k, body.with_vector, body.save, provenance)[0]
    )


@router.post("/vae/bridge", name="bridge", dependencies=[Read])
def bridge(body: BridgeRequest, collection: CollectionDep) -> BridgeResponse:
    """A reading path: real documents along the interpolation from start to end, ordered."""
    _, model = vae_runs.load_model(collection, body.model)
    start, end = to_endpoint(body.start, "start"), to_endpoint(body.end, "end")
    return BridgeResponse(path=vae_runs.bridge(collection, model, start, end, body.k, body.method))


def _check_save(request: Request, save: bool) -> None:
    """These routes read (scope `read`); keeping the generated points writes, so `save: true` needs `write`."""
    if save:
        require_scope(request, "write")


def _grounded(
    collection: Collection,
    info: VaeModelInfo,
    model: Any,
    vectors: np.ndarray,
    k: int,
    with_vector: bool,
    save: bool,
    provenance: list[dict[str, Any]],
) -> list[dict[str, Any]]:
    points = vae_runs.ground(collection, model, vectors, k, with_vector)
    if save:
        for point, sid in zip(points, vae_runs.save_points(collection, info, vectors, provenance), strict=True):
            point["synthetic_id"] = sid
    return points
