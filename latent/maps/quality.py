"""How faithful a 2-D map is: trustworthiness and how many of each point's nearest neighbours survive."""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np

from latent.clustering.model import sample_rows
from latent.errors import InvalidInput
from latent.vectors import as_vectors, unit_rows

_BLOCK_CELLS = 1 << 24  # query rows x points per distance block: bounds memory to ~130 MB


@dataclass(frozen=True)
class MapQuality:
    """Both figures lie in [0, 1]; higher is better.

    trustworthiness: sklearn's measure (cosine in the original space) on a seeded sample: are the
        map's near neighbours also near in the original space?
    knn_preservation: mean fraction of each sampled point's k nearest neighbours (cosine, among all
        points) that are also among its k nearest on the map.
    """

    trustworthiness: float
    knn_preservation: float
    k: int
    sample: int

    def as_dict(self) -> dict[str, float | int]:
        return asdict(self)


def quality(X: object, Y: object, sample: int = 2000, k: int = 10, random_state: int = 0) -> MapQuality:
    """Measure how well the layout Y (n, 2) keeps the neighbourhoods of the vectors X (n, d).

    Trustworthiness is computed within the sample (its cost grows with the square of the sample);
    neighbour preservation asks the sampled points for their neighbours among all n points.
    """
    X = as_vectors(X, name="X", min_rows=4)
    Y = as_vectors(Y, name="Y", min_rows=4)
    if len(X) != len(Y) or Y.shape[1] != 2:
        raise InvalidInput(
            "Y must hold one 2-D point per row of X",
            details={"X": list(X.shape), "Y": list(Y.shape)},
        )
    if sample < 4 or k < 1:
        raise InvalidInput("sample must be at least 4 and k at least 1", details={"sample": sample, "k": k})
    from sklearn.manifold import trustworthiness

    chosen = sample_rows(len(X), int(sample), int(random_state))
    # sklearn requires n_neighbors < n_samples / 2.
    k_trust = max(1, min(int(k), (len(chosen) - 1) // 2))
    trust = float(trustworthiness(X[chosen], Y[chosen], n_neighbors=k_trust, metric="cosine"))
    k_knn = min(int(k), len(X) - 1)
    preserved = knn_preservation(X, Y, chosen, k_knn)
    return MapQuality(
        trustworthiness=min(max(trust, 0.0), 1.0), knn_preservation=preserved, k=k_knn, sample=len(chosen)
    )


def knn_preservation(X: np.ndarray, Y: np.ndarray, queries: np.ndarray, k: int) -> float:
    """Mean overlap of the cosine k-NN in X and the Euclidean k-NN in Y, over the query rows."""
    units = unit_rows(X)
    coords = np.asarray(Y, dtype=np.float64)
    squared = (coords * coords).sum(axis=1)
    block = max(1, _BLOCK_CELLS // len(X))
    overlap = 0
    for start in range(0, len(queries), block):
        rows = queries[start : start + block]
        here = np.arange(len(rows))
        similarity = units[rows] @ units.T
        similarity[here, rows] = -np.inf
        distance = squared[rows, None] + squared[None, :] - 2.0 * (coords[rows] @ coords.T)
        distance[here, rows] = np.inf
        original = np.argpartition(-similarity, k - 1, axis=1)[:, :k]
        mapped = np.argpartition(distance, k - 1, axis=1)[:, :k]
        overlap += sum(len(np.intersect1d(a, b, assume_unique=True)) for a, b in zip(original, mapped, strict=True))
    return overlap / (len(queries) * k)
