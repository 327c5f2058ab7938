"""von Mises-Fisher helpers for the decoder's likelihood on the sphere: normaliser, concentration, draws."""

from __future__ import annotations

import math

import numpy as np

_MAX_KAPPA = 1e6


def log_bessel_iv(order: float, x: float) -> float:
    """log I_order(x), stable where scipy's scaled Bessel function underflows (large order, small x)."""
    from scipy.special import ive

    scaled = float(ive(order, x))
    if scaled > 1e-300 and math.isfinite(scaled):
        return math.log(scaled) + x
    # Debye's uniform asymptotic expansion, leading term: accurate to ~1/(8·order) in the log.
    z = x / order
    root = math.sqrt(1.0 + z * z)
    eta = root + math.log(z / (1.0 + root))
    return -0.5 * math.log(2.0 * math.pi * order) + order * eta - 0.5 * math.log(root)


def log_normaliser(dimension: int, kappa: float) -> float:
    """log C_d(kappa): the vMF density is C_d(kappa) · exp(kappa · cos(x, mean)) on the unit sphere in R^d."""
    order = dimension / 2.0 - 1.0
    return order * math.log(kappa) - (dimension / 2.0) * math.log(2.0 * math.pi) - log_bessel_iv(order, kappa)


def fit_kappa(mean_cosine: float, dimension: int) -> float:
    """Concentration whose expected cosine to the mean is `mean_cosine` (Banerjee et al. 2005 approximation,
    within 0.1% of the exact maximum-likelihood value in hundreds of dimensions)."""
    r = min(max(float(mean_cosine), 1e-6), 1.0 - 1e-9)
    return float(min(r * (dimension - r * r) / (1.0 - r * r), _MAX_KAPPA))


def sample_vmf(means: np.ndarray, kappa: float, rng: np.random.Generator) -> np.ndarray:
    """One draw per row of unit `means` from vMF(mean, kappa), by Wood's (1994) rejection sampler."""
    n, d = means.shape
    if kappa <= 0 or not math.isfinite(kappa):
        raise ValueError(f"kappa must be positive and finite, got {kappa}")
    # The cosine w to the mean, drawn by rejection from a Beta proposal (acceptance is high in high d).
    b = (d - 1.0) / (2.0 * kappa + math.sqrt(4.0 * kappa * kappa + (d - 1.0) ** 2))
    x0 = (1.0 - b) / (1.0 + b)
    c = kappa * x0 + (d - 1.0) * math.log(1.0 - x0 * x0)
    w = np.empty(n, dtype=np.float64)
    todo = np.arange(n)
    while len(todo):
        z = rng.beta((d - 1.0) / 2.0, (d - 1.0) / 2.0, size=len(todo))
        cand = (1.0 - (1.0 + b) * z) / (1.0 - (1.0 - b) * z)
        u = rng.uniform(size=len(todo))
        ok = kappa * cand + (d - 1.0) * np.log(1.0 - x0 * cand) - c >= np.log(u)
        w[todo[ok]] = cand[ok]
        todo = todo[~ok]
    # A uniform direction orthogonal to each mean.
    mu = means.astype(np.float64)
    v = rng.standard_normal((n, d))
    v -= (v * mu).sum(axis=1, keepdims=True) * mu
    v /= np.maximum(np.linalg.norm(v, axis=1, keepdims=True), 1e-12)
    out = w[:, None] * mu + np.sqrt(np.clip(1.0 - w * w, 0.0, None))[:, None] * v
    out /= np.linalg.norm(out, axis=1, keepdims=True)
    return out.astype(np.float32)
