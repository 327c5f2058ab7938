"""Sampling priors in latent space: N(0, I), or a Gaussian / mixture fitted to the aggregate posterior."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

PRIORS = ("mixture", "gaussian", "standard")


@dataclass(frozen=True)
class LatentPrior:
    """A Gaussian mixture in latent space (one component for "gaussian", none for "standard")."""

    kind: str
    weights: np.ndarray  # (k,)
    means: np.ndarray  # (k, latent_dim)
    chols: np.ndarray  # (k, latent_dim, latent_dim) lower Cholesky factors of the covariances

    def sample(self, eps: np.ndarray, rng: np.random.Generator, temperature: float) -> np.ndarray:
        """Latent points from standard-normal draws `eps`: component by weight, then mean + T · L · eps."""
        if self.kind == "standard":
            return (temperature * eps).astype(np.float32)
        picks = rng.choice(len(self.weights), size=len(eps), p=self.weights)
        spread = np.einsum("nij,nj->ni", self.chols[picks], eps)
        return (self.means[picks] + temperature * spread).astype(np.float32)


def fit_prior(kind: str, mu: np.ndarray, sigma: np.ndarray, components: int, seed: int) -> LatentPrior:
    """Fit the sampling prior to the training posteriors q(z|x) = N(mu, sigma^2).

    Decoding N(0, I) draws gives generic, too-similar vectors when the aggregate posterior is not standard
    normal; matching it (moments for "gaussian", k-means clusters with shrunk covariances for "mixture")
    puts samples where documents actually are.
    """
    latent_dim = mu.shape[1]
    if kind == "standard":
        return LatentPrior(
            kind,
            np.ones(1),
            np.zeros((1, latent_dim), np.float32),
            np.eye(latent_dim, dtype=np.float32)[None],
        )
    mu64, var64 = mu.astype(np.float64), sigma.astype(np.float64) ** 2
    global_cov = _covariance(mu64, var64)
    # At least ~20 points per component on average, so each cluster's mean and covariance mean something.
    k = 1 if kind == "gaussian" else max(1, min(components, len(mu) // 20))
    labels = np.zeros(len(mu), dtype=np.int64) if k == 1 else kmeans(mu64, k, seed)
    weights, means, chols = [], [], []
    for j in range(k):
        members = labels == j
        count = int(members.sum())
        if count == 0:
            continue
        cov = _covariance(mu64[members], var64[members]) if count > 1 else global_cov
        # Shrink each cluster's covariance towards the global one (an inverse-Wishart prior worth
        # latent_dim points): small clusters cannot estimate a full covariance on their own.
        cov = (count * cov + latent_dim * global_cov) / (count + latent_dim) if k > 1 else cov
        weights.append(count)
        means.append(mu64[members].mean(axis=0))
        chols.append(np.linalg.cholesky(cov + 1e-6 * np.eye(latent_dim)))
    w = np.asarray(weights, dtype=np.float64)
    return LatentPrior(kind, w / w.sum(), np.asarray(means, np.float32), np.asarray(chols, np.float32))


def _covariance(mu: np.ndarray, var: np.ndarray) -> np.ndarray:
    """Covariance of these rows' aggregate posterior: spread of the means plus the mean posterior variance."""
    spread = np.atleast_2d(np.cov(mu, rowvar=False)) if len(mu) > 1 else np.zeros((mu.shape[1],) * 2)
    return spread + np.diag(var.mean(axis=0))


def kmeans(x: np.ndarray, k: int, seed: int, iterations: int = 25) -> np.ndarray:
    """Cluster labels from Lloyd's k-means with k-means++ seeding (NumPy only, deterministic for a seed)."""
    rng = np.random.default_rng(seed)
    sq = (x * x).sum(axis=1)
    centres = [x[rng.integers(len(x))]]
    nearest = ((x - centres[0]) ** 2).sum(axis=1)
    for _ in range(1, k):
        probs = nearest / nearest.sum() if nearest.sum() > 0 else None
        centres.append(x[rng.choice(len(x), p=probs)])
        nearest = np.minimum(nearest, ((x - centres[-1]) ** 2).sum(axis=1))
    c = np.asarray(centres)
    labels = np.full(len(x), -1, dtype=np.int64)
    for _ in range(iterations):
        new = np.argmin(sq[:, None] - 2.0 * x @ c.T + (c * c).sum(axis=1)[None, :], axis=1)
        if np.array_equal(new, labels):
            break
        labels = new
        for j in range(k):
            members = labels == j
            if members.any():  # an emptied cluster keeps its old centre
                c[j] = x[members].mean(axis=0)
    return labels
