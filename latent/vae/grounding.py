"""Grounding of a VAE's generated vectors in the real collection: neighbours, diversity, saved points."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np
from sqlalchemy import select

from latent.maps.project import project_vectors
from latent.search import SearchOptions, search_many
from latent.store.collection import Collection
from latent.store.feature_models import ClusteringRow, SyntheticPointRow
from latent.vae.limits import MAX_K, check_count
from latent.vae.stored import VaeModelInfo
from latent.vectors import unit_rows

if TYPE_CHECKING:
    from latent.vae import TextVAE


def ground(
    collection: Collection, model: TextVAE, vectors: np.ndarray, k: int = 5, with_vector: bool = False
) -> list[dict[str, Any]]:
    """Each generated vector with its nearest real documents, novelty, plausibility and map position."""
    k = check_count(k, "k", MAX_K)
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
    """Where the vectors fall on the newest map; None without one."""
    return project_vectors(collection, vectors)


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
    """Distinct clusters of the newest clustering whose centroid is nearest some sample.

    The newest clustering is the collection's one (`Collection.newest_clustering_id`, the same run the
    `cluster` filter reads). None when there is no clustering, or when that run stored no centroids of
    the samples' width (an older clustering's centroids would count clusters of a run nobody sees).
    """
    clustering_id = collection.newest_clustering_id()
    if clustering_id is None:
        return None
    with collection.sessions() as s:
        blob = s.scalar(select(ClusteringRow.centroids).where(ClusteringRow.id == clustering_id))
    if not blob:
        return None
    centroids = np.frombuffer(blob, dtype=np.float32)
    if centroids.size % samples.shape[1]:
        return None
    centroids = unit_rows(centroids.reshape(-1, samples.shape[1]))
    return int(len(np.unique((samples @ centroids.T).argmax(axis=1))))


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
