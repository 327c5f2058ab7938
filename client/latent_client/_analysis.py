"""Endpoints of long runs and what they make: jobs, clusterings, maps and the text VAE."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Literal

from latent_client._endpoint import body, operation, query, seg, typed, under
from latent_client._transport import Call
from latent_client.models import (
    Bridge,
    ClusterDocumentList,
    Clustering,
    ClusteringList,
    Decoded,
    Encoded,
    Grounded,
    Interpolation,
    Job,
    JobList,
    Map,
    MapList,
    MapPointList,
    Point,
    Projection,
    Samples,
    Term,
    VaeList,
)

PointLike = str | Point | Mapping[str, Any]
Vector = Sequence[float]
Method = Literal["slerp", "lerp"]


def _point(value: PointLike) -> str | dict[str, Any]:
    if isinstance(value, str):
        return value
    return Point.model_validate(value).model_dump(mode="json", exclude_none=True)


def _vae(collection: str, tail: str = "") -> str:
    return under(collection, f"/vae{tail}")


class AnalysisEndpoints:
    """Jobs, clusterings, maps, VAE."""

    # ----- jobs -----------------------------------------------------------------------------------------------
    @operation("jobs-list")
    def list_jobs(limit: int = 100) -> Call[JobList]:
        """The newest jobs first."""
        return Call("GET", "/v1/jobs", typed(JobList), params=query(limit=limit))

    @operation("jobs-get")
    def get_job(job_id: str) -> Call[Job]:
        """Status, progress (0–1) and, on success, `result` naming what the job made."""
        return Call("GET", f"/v1/jobs/{seg(job_id)}", typed(Job))

    @operation("jobs-cancel")
    def cancel_job(job_id: str) -> Call[Job]:
        """Cancel a queued or running job (409 when it already ended)."""
        return Call("DELETE", f"/v1/jobs/{seg(job_id)}", typed(Job), idempotent=False)

    # ----- clusterings ----------------------------------------------------------------------------------------
    @operation("clusterings-create")
    def create_clustering(
        collection: str,
        algorithm: Literal["kmeans", "hdbscan"] = "kmeans",
        *,
        k: int | None = None,
        min_cluster_size: int | None = None,
        min_samples: int | None = None,
        reduce: int | None = None,
        random_state: int | None = None,
    ) -> Call[Job]:
        """Start a clustering job; its result names `clustering_id` (see `wait_job`)."""
        payload = body(
            algorithm=algorithm,
            k=k,
            min_cluster_size=min_cluster_size,
            min_samples=min_samples,
            reduce=reduce,
            random_state=random_state,
        )
        return Call("POST", under(collection, "/clusterings"), typed(Job), json=payload, idempotent=False)

    @operation("clusterings-list")
    def list_clusterings(collection: str) -> Call[ClusteringList]:
        return Call("GET", under(collection, "/clusterings"), typed(ClusteringList))

    @operation("clusterings-get")
    def get_clustering(collection: str, clustering_id: int) -> Call[Clustering]:
        """Clusters with labels, terms, sizes, representative ids, and the silhouette."""
        return Call("GET", under(collection, f"/clusterings/{clustering_id}"), typed(Clustering))

    @operation("clusterings-documents")
    def cluster_documents(
        collection: str, clustering_id: int, cluster: int, offset: int = 0, limit: int = 100, with_text: bool = False
    ) -> Call[ClusterDocumentList]:
        """One page of a cluster's documents (cluster -1: HDBSCAN's noise)."""
        path = under(collection, f"/clusterings/{clustering_id}/clusters/{cluster}/documents")
        params = query(offset=offset, limit=limit, with_text=with_text)
        return Call("GET", path, typed(ClusterDocumentList), params=params)

    # ----- maps -----------------------------------------------------------------------------------------------
    @operation("maps-create")
    def create_map(
        collection: str,
        *,
        n_neighbors: int | None = None,
        min_dist: float | None = None,
        sample: int | None = None,
        refit: bool | None = None,
        random_state: int | None = None,
    ) -> Call[Job]:
        """Start a 2-D map fit (`refit=True`: aligned to the newest map); the job's result names `map_id`."""
        payload = body(
            n_neighbors=n_neighbors, min_dist=min_dist, sample=sample, refit=refit, random_state=random_state
        )
        return Call("POST", under(collection, "/maps"), typed(Job), json=payload, idempotent=False)

    @operation("maps-list")
    def list_maps(collection: str) -> Call[MapList]:
        return Call("GET", under(collection, "/maps"), typed(MapList))

    @operation("maps-get")
    def get_map(collection: str, map_id: int) -> Call[Map]:
        """A map's parameters, quality and point count."""
        return Call("GET", under(collection, f"/maps/{map_id}"), typed(Map))

    @operation("maps-points")
    def map_points(
        collection: str,
        map_id: int,
        offset: int = 0,
        limit: int = 1000,
        bbox: tuple[float, float, float, float] | None = None,
    ) -> Call[MapPointList]:
        """One page of points with cluster ids and titles, optionally inside `bbox` (x0, y0, x1, y1)."""
        params = query(offset=offset, limit=limit, bbox=",".join(str(v) for v in bbox) if bbox else None)
        return Call("GET", under(collection, f"/maps/{map_id}/points"), typed(MapPointList), params=params)

    @operation("maps-project")
    def project(
        collection: str,
        map_id: int,
        *,
        texts: Sequence[str] | None = None,
        ids: Sequence[str] | None = None,
        vectors: Sequence[Vector] | None = None,
    ) -> Call[Projection]:
        """Place texts, stored documents or vectors (exactly one kind) on a map."""
        payload = body(texts=texts, ids=ids, vectors=vectors)
        return Call("POST", under(collection, f"/maps/{map_id}/project"), typed(Projection), json=payload)

    # ----- VAE ------------------------------------------------------------------------------------------------
    @operation("vae-train")
    def train_vae(
        collection: str,
        *,
        epochs: int | None = None,
        latent_dim: int | None = None,
        hidden_dim: int | None = None,
        beta: float | None = None,
        batch_size: int | None = None,
        lr: float | None = None,
        kl_warmup_epochs: int | None = None,
        free_bits: float | None = None,
        noise: float | None = None,
        weight_decay: float | None = None,
        dropout: float | None = None,
        val_fraction: float | None = None,
        prior: Literal["mixture", "gaussian", "standard"] | None = None,
        prior_components: int | None = None,
        random_state: int | None = None,
    ) -> Call[Job]:
        """Start training a VAE (each parameter left out takes the server's default); result: `model_id`."""
        payload = body(
            epochs=epochs,
            latent_dim=latent_dim,
            hidden_dim=hidden_dim,
            beta=beta,
            batch_size=batch_size,
            lr=lr,
            kl_warmup_epochs=kl_warmup_epochs,
            free_bits=free_bits,
            noise=noise,
            weight_decay=weight_decay,
            dropout=dropout,
            val_fraction=val_fraction,
            prior=prior,
            prior_components=prior_components,
            random_state=random_state,
        )
        return Call("POST", _vae(collection), typed(Job), json=payload, idempotent=False)

    @operation("vae-list")
    def list_vaes(collection: str) -> Call[VaeList]:
        return Call("GET", _vae(collection), typed(VaeList))

    @operation("vae-encode")
    def vae_encode(
        collection: str,
        *,
        texts: Sequence[str] | None = None,
        ids: Sequence[str] | None = None,
        vectors: Sequence[Vector] | None = None,
        model: int | None = None,
    ) -> Call[Encoded]:
        """Posterior mean and standard deviation of texts, stored ids or vectors (one kind)."""
        payload = body(texts=texts, ids=ids, vectors=vectors, model=model)
        return Call("POST", _vae(collection, "/encode"), typed(Encoded), json=payload)

    @operation("vae-decode")
    def vae_decode(collection: str, z: Sequence[Vector], *, model: int | None = None) -> Call[Decoded]:
        """Unit embeddings for latent points."""
        return Call("POST", _vae(collection, "/decode"), typed(Decoded), json=body(z=z, model=model))

    @operation("vae-interpolate")
    def vae_interpolate(
        collection: str,
        start: PointLike,
        end: PointLike,
        *,
        steps: int = 5,
        method: Method = "slerp",
        k: int = 5,
        with_vector: bool = False,
        save: bool = False,
        model: int | None = None,
    ) -> Call[Interpolation]:
        """Points from start to end, each grounded in its nearest real documents (`save=True` needs write)."""
        payload = body(
            start=_point(start),
            end=_point(end),
            steps=steps,
            method=method,
            k=k,
            with_vector=with_vector,
            save=save,
            model=model,
        )
        return Call("POST", _vae(collection, "/interpolate"), typed(Interpolation), json=payload, idempotent=not save)

    @operation("vae-sample")
    def vae_sample(
        collection: str,
        n: int = 10,
        *,
        seed: int | None = None,
        anchor: PointLike | None = None,
        temperature: float = 1.0,
        k: int = 5,
        with_vector: bool = False,
        save: bool = False,
        model: int | None = None,
    ) -> Call[Samples]:
        """New embeddings from the prior (or around `anchor`), grounded, with their diversity."""
        payload = body(
            n=n,
            seed=seed,
            anchor=_point(anchor) if anchor is not None else None,
            temperature=temperature,
            k=k,
            with_vector=with_vector,
            save=save,
            model=model,
        )
        return Call("POST", _vae(collection, "/sample"), typed(Samples), json=payload, idempotent=not save)

    @operation("vae-arithmetic")
    def vae_arithmetic(
        collection: str,
        terms: Sequence[Term | Mapping[str, Any]],
        *,
        k: int = 5,
        with_vector: bool = False,
        save: bool = False,
        model: int | None = None,
    ) -> Call[Grounded]:
        """Decode a signed sum of terms in latent space (a filter term adds an attribute direction)."""
        parts = [Term.model_validate(t).model_dump(mode="json", exclude_none=True) for t in terms]
        payload = body(terms=parts, k=k, with_vector=with_vector, save=save, model=model)
        return Call("POST", _vae(collection, "/arithmetic"), typed(Grounded), json=payload, idempotent=not save)

    @operation("vae-bridge")
    def vae_bridge(
        collection: str,
        start: PointLike,
        end: PointLike,
        *,
        k: int = 10,
        method: Method = "lerp",
        model: int | None = None,
    ) -> Call[Bridge]:
        """A reading path: real documents along the interpolation from start to end."""
        payload = body(start=_point(start), end=_point(end), k=k, method=method, model=model)
        return Call("POST", _vae(collection, "/bridge"), typed(Bridge), json=payload)
