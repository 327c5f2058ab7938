"""2-D latent maps: a seeded UMAP layout that places new points and keeps its orientation on refits."""

from __future__ import annotations

import os
import pickle
import tempfile
from collections.abc import Hashable, Sequence
from pathlib import Path

import numpy as np

from latent.clustering.model import UMAP_EXACT_BELOW, sample_rows
from latent.errors import Conflict, InvalidInput, NotFound
from latent.jobs import Progress, ShouldStop, Steps
from latent.maps.align import MIN_SHARED, Alignment, Displacement, align_to_previous, warm_start_layout
from latent.maps.quality import MapQuality, quality
from latent.vectors import as_vectors

__all__ = ["LatentMap", "Alignment", "Displacement", "MapQuality", "quality", "MIN_POINTS"]

MIN_POINTS = 5
"""Fewest points a map is fitted on: UMAP's spectral layout needs a few more points than dimensions."""

# A warm-started refit strays less from where it starts with a gentler optimiser. Median shift of kept
# points (share of the layout's spread) on 2,000 SciFact documents (1,800 kept + 200 new) at UMAP's
# rate 0.1 / 0.03 / 0.01: 0.089 / 0.077 / 0.073, trustworthiness 0.94 throughout (rate 1.0: 0.17);
# worst topic-centre shift on three disjoint toy topics (tests/service/test_maps.py, three seeds):
# 0.42 / 0.20 / 0.26.
_WARM_LEARNING_RATE = 0.03

_FORMAT = "latent-map"
_VERSION = 1


class LatentMap:
    """A UMAP projection to 2-D, sklearn-style: params in __init__, `fit` learns `embedding_`.

    Args:
        n_neighbors: UMAP's neighbourhood size (larger keeps more global structure).
        min_dist: how tightly points may pack in the layout.
        metric: distance in the original space ("cosine" for sentence embeddings).
        sample: fit UMAP on a seeded sample of at most this many points and place the rest with
            `transform`; fitting cost grows faster than linearly, transform is cheap per point.
        random_state: seed; the same input gives the same map (a seeded UMAP runs single-threaded).
        batch_size: points per transform call (progress and cancellation are checked between calls).
    """

    def __init__(
        self,
        n_neighbors: int = 15,
        min_dist: float = 0.1,
        metric: str = "cosine",
        sample: int = 50_000,
        random_state: int = 42,
        batch_size: int = 4096,
    ):
        self.n_neighbors = n_neighbors
        self.min_dist = min_dist
        self.metric = metric
        self.sample = sample
        self.random_state = random_state
        self.batch_size = batch_size

    def get_params(self) -> dict[str, object]:
        """The constructor arguments, as stored with a map."""
        return {
            "n_neighbors": self.n_neighbors,
            "min_dist": self.min_dist,
            "metric": self.metric,
            "sample": self.sample,
            "random_state": self.random_state,
            "batch_size": self.batch_size,
        }

    def fit(self, X: object, progress: Progress | None = None, should_stop: ShouldStop | None = None) -> LatentMap:
        """Lay out every row of X in 2-D (`embedding_`, float32, shape (n, 2))."""
        job = Steps(progress, should_stop)
        self._fit(as_vectors(X, name="X", min_rows=MIN_POINTS), job, init=None)
        job.finish()
        return self

    def _fit(self, X: np.ndarray, job: Steps, init: np.ndarray | None) -> LatentMap:
        self._check_params()
        import umap
        from umap.distances import named_distances

        if self.metric not in named_distances:
            raise InvalidInput(
                f"unknown metric {self.metric!r}; use one UMAP knows, such as 'cosine' or 'euclidean'",
                details={"metric": self.metric},
            )
        fitted = sample_rows(len(X), int(self.sample), int(self.random_state))
        reducer = umap.UMAP(
            n_components=2,
            n_neighbors=min(int(self.n_neighbors), len(fitted) - 1),
            min_dist=float(self.min_dist),
            metric=self.metric,
            random_state=int(self.random_state),
            transform_seed=int(self.random_state),
            n_jobs=1,  # a seeded UMAP is single-threaded anyway; saying so avoids its warning
            force_approximation_algorithm=len(fitted) >= UMAP_EXACT_BELOW,
            init="spectral" if init is None else np.ascontiguousarray(init[fitted], dtype=np.float32),
            learning_rate=1.0 if init is None else _WARM_LEARNING_RATE,
        )
        job.step("umap-fit", 0.0)
        embedding = np.empty((len(X), 2), dtype=np.float32)
        embedding[fitted] = reducer.fit_transform(X[fitted])
        rest = np.setdiff1d(np.arange(len(X)), fitted, assume_unique=True)
        embedding[rest] = _transform(reducer, X[rest], int(self.batch_size), job)
        # Learned state is set only now, so a cancelled fit leaves the previous one intact.
        self.reducer_ = reducer
        self.n_features_in_ = int(X.shape[1])
        self.alignment_: Alignment | None = None
        self.displacement_: Displacement | None = None
        self.sample_index_ = fitted
        self.embedding_ = embedding
        return self

    def fit_transform(
        self, X: object, progress: Progress | None = None, should_stop: ShouldStop | None = None
    ) -> np.ndarray:
        return self.fit(X, progress=progress, should_stop=should_stop).embedding_

    def transform(
        self, X_new: object, progress: Progress | None = None, should_stop: ShouldStop | None = None
    ) -> np.ndarray:
        """Coordinates for new points in the current layout; the points already on the map do not move."""
        self._check_fitted()
        X_new = as_vectors(X_new, self.n_features_in_, name="X_new", min_rows=0)
        coords = self._place(X_new, Steps(progress, should_stop))
        Steps(progress, None).finish()
        return coords

    def refit(
        self,
        X: object,
        previous_ids: Sequence[Hashable],
        previous_coords: object,
        ids: Sequence[Hashable],
        progress: Progress | None = None,
        should_stop: ShouldStop | None = None,
        warm_start: bool = True,
    ) -> LatentMap:
        """Fit a fresh layout of X, then rotate/reflect/scale/shift it onto the previous layout.

        The similarity transform is the least-squares (Procrustes) fit on the points both layouts
        share, so the picture keeps its orientation; `displacement_` says how far shared points
        moved and `alignment_` holds the transform (also applied by later `transform` calls).
        With `warm_start`, UMAP starts from the previous positions (new points beside their nearest
        shared neighbour) with a gentler learning rate, which keeps regions where they were; a
        rotation alone cannot undo UMAP's arbitrary placement of separate groups.
        """
        previous = as_vectors(previous_coords, name="previous_coords", min_rows=0)
        if previous.shape[1] != 2 or len(previous) != len(previous_ids):
            raise InvalidInput(
                "previous_coords must be (n, 2) with one row per previous id",
                details={"shape": list(previous.shape), "previous_ids": len(previous_ids)},
            )
        X = as_vectors(X, name="X", min_rows=MIN_POINTS)
        if len(ids) != len(X):
            raise InvalidInput("ids must name every row of X", details={"ids": len(ids), "rows": len(X)})
        _check_unique(ids, "ids")
        _check_unique(previous_ids, "previous_ids")
        job = Steps(progress, should_stop)
        row_of = {key: i for i, key in enumerate(ids)}
        pairs = [(row_of[key], j) for j, key in enumerate(previous_ids) if key in row_of]
        new_rows = np.array([p[0] for p in pairs], dtype=np.int64)
        old_rows = np.array([p[1] for p in pairs], dtype=np.int64)
        init = None
        if warm_start and len(pairs) >= MIN_SHARED:
            job.step("warm-start", 0.0)
            init = warm_start_layout(X, new_rows, previous[old_rows], int(self.random_state))
        self._fit(X, job, init=init)
        job.step("align", 0.0)
        alignment, displacement = align_to_previous(self.embedding_[new_rows], previous[old_rows])
        if alignment is not None:
            self.embedding_ = alignment.apply(self.embedding_)
        self.alignment_ = alignment
        self.displacement_ = displacement
        job.finish()
        return self

    def quality(self, X: object, sample: int = 2000, k: int = 10) -> MapQuality:
        """How faithfully `embedding_` keeps the neighbourhoods of X (see `latent.maps.quality.quality`)."""
        self._check_fitted()
        return quality(X, self.embedding_, sample=sample, k=k, random_state=int(self.random_state))

    def save(self, path: str | os.PathLike[str]) -> Path:
        """Pickle the fitted map (UMAP reducer included) atomically: readers see the old file or the new."""
        self._check_fitted()
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
        try:
            with os.fdopen(fd, "wb") as handle:
                pickle.dump({"format": _FORMAT, "version": _VERSION, "map": self}, handle, pickle.HIGHEST_PROTOCOL)
                handle.flush()
                os.fsync(handle.fileno())
            os.replace(tmp, path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
        _fsync_dir(path.parent)
        return path

    @classmethod
    def load(cls, path: str | os.PathLike[str]) -> LatentMap:
        """Read a map written by `save` (pickle: only load files this service wrote)."""
        path = Path(path)
        try:
            with path.open("rb") as handle:
                payload = pickle.load(handle)
        except FileNotFoundError as exc:
            raise NotFound(f"no map file at {str(path)!r}", details={"path": str(path)}) from exc
        except (pickle.UnpicklingError, EOFError, AttributeError, ImportError) as exc:
            raise InvalidInput(f"{str(path)!r} is not a readable map file: {exc}", details={"path": str(path)}) from exc
        if not (isinstance(payload, dict) and payload.get("format") == _FORMAT and isinstance(payload.get("map"), cls)):
            raise InvalidInput(f"{str(path)!r} is not a Latent map file", details={"path": str(path)})
        if payload.get("version") != _VERSION:
            raise InvalidInput(
                f"map file version {payload.get('version')!r} is not supported (expected {_VERSION})",
                details={"path": str(path), "version": payload.get("version")},
            )
        return payload["map"]

    def _place(self, X: np.ndarray, job: Steps) -> np.ndarray:
        """UMAP's transform in batches, then the alignment of the last refit (if any)."""
        coords = _transform(self.reducer_, X, int(self.batch_size), job)
        if self.alignment_ is not None:
            coords = self.alignment_.apply(coords)
        return coords

    def _check_fitted(self) -> None:
        if not hasattr(self, "embedding_"):
            raise Conflict("this LatentMap is not fitted yet; call fit first")

    def _check_params(self) -> None:
        try:
            self._check_param_values()
        except (TypeError, ValueError) as exc:  # e.g. n_neighbors="many": a bad parameter, not a crash
            raise InvalidInput(f"invalid map parameters: {exc}", details={"params": self.get_params()}) from exc

    def _check_param_values(self) -> None:
        checks = [
            (int(self.n_neighbors) >= 2, "n_neighbors must be at least 2"),
            (0.0 <= float(self.min_dist) <= 1.0, "min_dist must be within [0, 1]"),
            (int(self.sample) >= MIN_POINTS, f"sample must be at least {MIN_POINTS}"),
            (int(self.batch_size) >= 1, "batch_size must be at least 1"),
            (isinstance(self.metric, str) and bool(self.metric), "metric must be a UMAP metric name"),
        ]
        for ok, message in checks:
            if not ok:
                raise InvalidInput(message, details={"params": self.get_params()})


def _transform(reducer: object, X: np.ndarray, batch_size: int, job: Steps) -> np.ndarray:
    coords = np.empty((len(X), 2), dtype=np.float32)
    step = max(1, batch_size)
    for start in range(0, len(X), step):
        job.step("umap-transform", start / len(X))
        coords[start : start + step] = reducer.transform(X[start : start + step])  # type: ignore[attr-defined]
    return coords


def _check_unique(keys: Sequence[Hashable], name: str) -> None:
    if len(set(keys)) != len(keys):
        raise InvalidInput(f"{name} contains duplicates", details={"name": name})


def _fsync_dir(directory: Path) -> None:
    # Makes the rename itself durable; not every platform lets a directory be opened.
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
