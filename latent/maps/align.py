"""Align a new 2-D layout to a previous one (Procrustes, with scale), and measure how far points moved."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from latent.vectors import unit_rows

_BLOCK_CELLS = 1 << 24  # rows x shared points per similarity block: bounds memory to ~64 MB

MIN_SHARED = 3
"""Fewest shared points an alignment is fitted on (two points cannot tell a reflection apart)."""


@dataclass(frozen=True)
class Alignment:
    """The similarity transform y -> scale * y @ rotation + translation (rotation may be a reflection)."""

    rotation: np.ndarray
    scale: float
    translation: np.ndarray

    def apply(self, coords: np.ndarray) -> np.ndarray:
        return (self.scale * (np.asarray(coords, dtype=np.float64) @ self.rotation) + self.translation).astype(
            np.float32
        )

    def as_dict(self) -> dict[str, object]:
        return {
            "rotation": self.rotation.tolist(),
            "scale": self.scale,
            "translation": self.translation.tolist(),
            "reflected": bool(np.linalg.det(self.rotation) < 0),
        }


@dataclass(frozen=True)
class Displacement:
    """How far the points two layouts share moved; `spread` (RMS distance from their centre) is the scale."""

    shared: int
    mean: float
    median: float
    max: float
    spread: float

    @property
    def relative_mean(self) -> float:
        return self.mean / self.spread if self.spread > 0 else 0.0

    @property
    def relative_median(self) -> float:
        return self.median / self.spread if self.spread > 0 else 0.0

    @property
    def relative_max(self) -> float:
        return self.max / self.spread if self.spread > 0 else 0.0

    def as_dict(self) -> dict[str, float | int]:
        return {
            "shared": self.shared,
            "mean": self.mean,
            "median": self.median,
            "max": self.max,
            "spread": self.spread,
            "relative_mean": self.relative_mean,
            "relative_median": self.relative_median,
            "relative_max": self.relative_max,
        }


def procrustes(source: np.ndarray, target: np.ndarray) -> Alignment:
    """Least-squares similarity transform taking `source` rows onto `target` rows (Umeyama; may reflect)."""
    source = np.asarray(source, dtype=np.float64)
    target = np.asarray(target, dtype=np.float64)
    source_mean, target_mean = source.mean(axis=0), target.mean(axis=0)
    a, b = source - source_mean, target - target_mean
    u, singular, vt = np.linalg.svd(a.T @ b)
    rotation = u @ vt
    energy = float((a * a).sum())
    scale = float(singular.sum() / energy) if energy > 0 else 1.0
    translation = target_mean - scale * source_mean @ rotation
    return Alignment(rotation=rotation, scale=scale, translation=translation)


def displacement(moved: np.ndarray, previous: np.ndarray) -> Displacement:
    """Distances between matching rows of two layouts, with the spread of `previous` for scale."""
    moved = np.asarray(moved, dtype=np.float64)
    previous = np.asarray(previous, dtype=np.float64)
    if not len(previous):
        return Displacement(shared=0, mean=0.0, median=0.0, max=0.0, spread=0.0)
    distances = np.linalg.norm(moved - previous, axis=1)
    spread = float(np.sqrt(((previous - previous.mean(axis=0)) ** 2).sum(axis=1).mean()))
    return Displacement(
        shared=len(previous),
        mean=float(distances.mean()),
        median=float(np.median(distances)),
        max=float(distances.max()),
        spread=spread,
    )


def align_to_previous(new: np.ndarray, previous: np.ndarray) -> tuple[Alignment | None, Displacement]:
    """Fit the alignment on matching rows (None below MIN_SHARED) and report the displacement after it."""
    if len(new) < MIN_SHARED:
        return None, displacement(new, previous)
    alignment = procrustes(new, previous)
    return alignment, displacement(alignment.apply(new), previous)


def warm_start_layout(X: np.ndarray, shared_rows: np.ndarray, shared_coords: np.ndarray, seed: int) -> np.ndarray:
    """Starting positions for a refit: shared rows where they were, others beside their nearest shared row.

    A little seeded jitter (1% of the layout's spread) keeps new points from sitting exactly on top of
    their neighbour, which UMAP's optimiser cannot pull apart.
    """
    shared_coords = np.asarray(shared_coords, dtype=np.float64)
    init = np.empty((len(X), 2), dtype=np.float64)
    init[shared_rows] = shared_coords
    others = np.setdiff1d(np.arange(len(X)), shared_rows)
    if len(others):
        units = unit_rows(X)
        anchors = units[shared_rows]
        nearest = np.empty(len(others), dtype=np.int64)
        block = max(1, _BLOCK_CELLS // len(shared_rows))
        for start in range(0, len(others), block):
            rows = others[start : start + block]
            nearest[start : start + block] = np.argmax(units[rows] @ anchors.T, axis=1)
        spread = displacement(shared_coords, shared_coords).spread or 1.0
        jitter = np.random.default_rng(seed).normal(scale=0.01 * spread, size=(len(others), 2))
        init[others] = shared_coords[nearest] + jitter
    return init.astype(np.float32)
