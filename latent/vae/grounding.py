"""Grounding of a VAE's generated vectors in the real collection: neighbours, diversity, saved points."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np
from sqlalchemy import select

from latent.search import SearchOptions, search_many
from latent.store.collection import Collection
from latent.store.feature_models import ClusteringRow, SyntheticPointRow

if TYPE_CHECKING:
    from latent.vae import TextVAE
    from latent.vae.runs import VaeModelInfo


def ground(
    collection: Collection, model: TextVAE, vectors: np.ndarray, k: int = 5, with_vector: bool = False
) -> list[dict[str, Any]]:
    """Each generated vector with its nearest real documents, novelty, plausibility and map position."""
    from latent.vae.runs import MAX_K, _check_count  # at call time: vae_runs re-exports this module

    k = _check_count(k, "k", MAX_K)
    hits = search_many(collection, vectors=list(vectors), options=SearchOptions(k=k))
    elbo = model.elbo(vectors)
    percentile = model.plausibility_percentile(elbo)
    positions = _positions(collection, vectors)
    out = []
    for i, row in enumerate(hits):
        point: dict[str, Any] = {}
        if with_vector:
            point["vector"] = vectors[i].tolist()
        point["neighbors"] = [{"id": h.id, "title": h.title, "cosine": float(h.score)} for h in row]
        point["novelty"] = float(1.0 - row[0].score) if row else 1.0
        point["plausibility"] = {"elbo": float(elbo[i]), "percentile": float(percentile[i])}
        if positions is not None:
            point["position"] = {"x": float(positions[i][0]), "y": float(positions[i][1])}
        out.append(point)
    return out


def _positions(collection: Collection, vectors: np.ndarray) -> np.ndarray | None:
    try:
        from latent.maps import runs as map_runs  # type: ignore[attr-defined]
    except ImportError:
        return None
    project = getattr(map_runs, "project_vectors", None)
    return None if project is None else project(collection, vectors)


def diversity(collection: Collection, info: VaeModelInfo, samples: np.ndarray) -> dict[str, Any]:
    """Samples' mean pairwise cosine beside the real documents', and clusters of the newest clustering hit."""
    from latent.vae.ops import mean_pairwise_cosine

    real = info.metrics.get("real_mean_pairwise_cosine")
    if real is None:
        _, vectors = collection.all_document_vectors()
        real = mean_pairwise_cosine(vectors) if len(vectors) > 1 else None
    return {
        "mean_pairwise_cosine": mean_pairwise_cosine(samples) if len(samples) > 1 else None,
        "real_mean_pairwise_cosine": real,
        "clusters_touched": clusters_touched(collection, samples),
    }


def clusters_touched(collection: Collection, samples: np.ndarray) -> int | None:
    """Distinct clusters of the newest clustering whose centroid is nearest some sample; None without one."""
    with collection.sessions() as s:
        blob = s.scalars(
            select(ClusteringRow.centroids)
            .where(ClusteringRow.collection_id == collection.id, ClusteringRow.centroids.is_not(None))
            .order_by(ClusteringRow.id.desc())
            .limit(1)
        ).first()
    if blob is None:
        return None
    centroids = np.frombuffer(blob, dtype=np.float32)
    if centroids.size == 0 or centroids.size % samples.shape[1]:
        return None
    centroids = centroids.reshape(-1, samples.shape[1])
    norms = np.linalg.norm(centroids, axis=1, keepdims=True)
    return int(len(np.unique((samples @ (centroids / np.maximum(norms, 1e-12)).T).argmax(axis=1))))


def save_points(
    collection: Collection,
    info: VaeModelInfo,
    vectors: np.ndarray,
    provenance: list[dict[str, Any]],
    label: str = "",
) -> list[int]:
    """Keep generated embeddings as synthetic points (never in search results unless asked); their ids."""
    with collection.sessions() as s, s.begin():
        rows = [
            SyntheticPointRow(
                collection_id=collection.id,
                vae_model_id=info.id,
                label=label[:256],
                provenance=p,
                vector=np.ascontiguousarray(v, np.float32).tobytes(),
            )
            for v, p in zip(vectors, provenance, strict=True)
        ]
        s.add_all(rows)
        s.flush()
        return [r.id for r in rows]
