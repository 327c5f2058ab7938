"""NumPy helpers for the VAE: integer checks, sphere geometry, diversity and retrieval measures."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from numpy.typing import ArrayLike

from latent.errors import InvalidInput
from latent.vectors import as_vectors

METHODS = ("lerp", "slerp")


def check_positive_int(value: object, name: str, *, minimum: int = 1, maximum: int | None = None) -> int:
    """`value` as an int in [minimum, maximum], else InvalidInput naming the argument."""
    if isinstance(value, bool) or not isinstance(value, int | np.integer):
        raise InvalidInput(f"{name} must be an integer, got {value!r}", details={"argument": name})
    if value < minimum or (maximum is not None and value > maximum):
        bound = f">= {minimum}" if maximum is None else f"between {minimum} and {maximum}"
        raise InvalidInput(f"{name} must be {bound}, got {value}", details={"argument": name, "value": int(value)})
    return int(value)


def interpolation_times(steps: int) -> np.ndarray:
    """`steps` evenly spaced t in [0, 1], both ends included (so steps >= 2)."""
    steps = check_positive_int(steps, "steps", minimum=2, maximum=10_000)
    return np.linspace(0.0, 1.0, steps, dtype=np.float64)


def lerp(a: np.ndarray, b: np.ndarray, t: np.ndarray) -> np.ndarray:
    """Straight-line points (1 - t)·a + t·b, one row per t."""
    t = t[:, None]
    return ((1.0 - t) * a[None, :] + t * b[None, :]).astype(np.float32)


def slerp(a: np.ndarray, b: np.ndarray, t: np.ndarray) -> np.ndarray:
    """Great-circle points between unit vectors a and b; normalised lerp when they are nearly parallel."""
    a64, b64 = a.astype(np.float64), b.astype(np.float64)
    dot = float(np.clip(a64 @ b64, -1.0, 1.0))
    omega = np.arccos(dot)
    if omega < 1e-6:
        out = lerp(a64, b64, t).astype(np.float64)
    elif np.pi - omega < 1e-6:
        raise InvalidInput("slerp between opposite vectors is undefined", details={"method": "slerp"})
    else:
        t = t[:, None]
        out = (np.sin((1.0 - t) * omega) * a64 + np.sin(t * omega) * b64) / np.sin(omega)
    out /= np.linalg.norm(out, axis=1, keepdims=True)
    return out.astype(np.float32)


def mean_pairwise_cosine(vectors: ArrayLike) -> float:
    """Mean cosine over distinct pairs: lower means a more diverse set (real SciFact abstracts: ~0.135)."""
    x = as_vectors(vectors, name="samples", normalise=True, allow_zero=False).astype(np.float64)
    n = len(x)
    if n < 2:
        raise InvalidInput("diversity needs at least two vectors", details={"count": n})
    total = x.sum(axis=0)
    # sum over all ordered pairs = |sum x|^2; remove the n self-pairs (each 1 for unit vectors).
    return float((total @ total - n) / (n * (n - 1)))


def best_cosines(queries: np.ndarray, corpus: np.ndarray, chunk: int = 8192) -> tuple[np.ndarray, np.ndarray]:
    """For each unit query, its best cosine and the index of that row in the unit `corpus` (chunked)."""
    best = np.full(len(queries), -np.inf, dtype=np.float32)
    arg = np.zeros(len(queries), dtype=np.int64)
    for start in range(0, len(corpus), chunk):
        sims = queries @ corpus[start : start + chunk].T
        idx = sims.argmax(axis=1)
        val = sims[np.arange(len(queries)), idx]
        better = val > best
        best[better], arg[better] = val[better], idx[better] + start
    return best, arg


def self_retrieval_rate(reconstructions: np.ndarray, corpus: np.ndarray, positions: np.ndarray) -> float:
    """Share of reconstructions whose nearest corpus row is their own original (row `positions[i]`)."""
    if len(reconstructions) == 0:
        return float("nan")
    _, arg = best_cosines(reconstructions, corpus)
    return float((arg == positions).mean())


def active_units(mu: np.ndarray, threshold: float = 0.01) -> int:
    """Latent dimensions whose posterior mean varies over the data (variance > threshold): not collapsed."""
    if len(mu) < 2:
        return 0
    return int((mu.var(axis=0) > threshold).sum())


def percentile_of(values: ArrayLike, reference_sorted: np.ndarray) -> np.ndarray:
    """Percent of the reference values at or below each value (0-100)."""
    v = np.asarray(values, dtype=np.float64).reshape(-1)
    if not np.isfinite(v).all():
        raise InvalidInput("values must be finite numbers", details={"argument": "values"})
    ranks = np.searchsorted(reference_sorted, v, side="right")
    return (100.0 * ranks / len(reference_sorted)).astype(np.float32)


def combine_terms(terms: Sequence[tuple[float, ArrayLike]]) -> tuple[np.ndarray, list[np.ndarray]]:
    """Split arithmetic terms into a weight vector and a list of vectors, checking their shape."""
    if not isinstance(terms, Sequence) or isinstance(terms, str | bytes) or len(terms) == 0:
        raise InvalidInput("arithmetic needs a non-empty list of (weight, vector) terms", details={})
    weights, vectors = [], []
    for i, term in enumerate(terms):
        if not isinstance(term, Sequence) or len(term) != 2:
            raise InvalidInput(f"term {i} must be a (weight, vector) pair", details={"term": i})
        weight, vector = term
        try:
            w = float(weight)
        except (TypeError, ValueError) as exc:
            raise InvalidInput(f"term {i} has a non-numeric weight {weight!r}", details={"term": i}) from exc
        if not np.isfinite(w):
            raise InvalidInput(f"term {i} has a non-finite weight", details={"term": i})
        weights.append(w)
        vectors.append(vector)
    return np.asarray(weights, dtype=np.float32), vectors
