"""The one vector validator and the one unit-normalisation helper every feature uses.

Every vector a user sends (query vectors, recommendation examples, map projections, VAE inputs) and
every matrix a learner is fitted on passes through `as_vectors`, so bad input gets the same error
everywhere: `dimension_mismatch` when the width is wrong, `invalid_vector` for any other defect.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from latent.errors import DimensionMismatch, InvalidInput

INVALID_VECTOR = "invalid_vector"
ZERO_NORM = 1e-12


def as_vectors(
    values: Any,
    dimension: int | None = None,
    *,
    name: str = "vectors",
    min_rows: int = 1,
    normalise: bool = False,
    allow_zero: bool = True,
) -> np.ndarray:
    """`values` as a finite C-contiguous float32 (n, dimension) matrix; one vector becomes one row.

    Args:
        dimension: the width required, or None to accept any width of at least 1.
        min_rows: fewer rows than this is an error (0 accepts an empty batch).
        normalise: scale rows to unit length (cosine becomes a dot product).
        allow_zero: when False, an all-zero row is an error (it has no direction to compare).

    Raises:
        DimensionMismatch: the width is not `dimension`.
        InvalidInput (code `invalid_vector`): not numeric, not 1-D/2-D, too few rows, NaN or infinity.
    """
    try:
        array = np.asarray(values, dtype=np.float32)
    except (TypeError, ValueError) as exc:
        raise _invalid(f"{name} must be numeric vectors", name) from exc
    if array.ndim == 1 and array.size:
        array = array[None, :]
    elif array.ndim == 1 and min_rows == 0:
        array = array.reshape(0, dimension or 0)
    if array.ndim != 2:
        raise _invalid(f"{name} must be a vector or a 2-D matrix, got shape {tuple(array.shape)}", name, array)
    if len(array) < min_rows:
        raise _invalid(f"{name} needs at least {min_rows} row(s), got {len(array)}", name, array)
    width = int(array.shape[1])
    if dimension is not None and width != dimension and len(array):
        raise DimensionMismatch(
            f"{name} have dimension {width}, expected {dimension}",
            details={"argument": name, "expected": dimension, "got": width},
        )
    if width < 1 and len(array):
        raise _invalid(f"{name} must have at least one column", name, array)
    if not np.isfinite(array).all():
        raise _invalid(f"{name} contain NaN or infinite values", name)
    if not allow_zero and len(array) and (np.linalg.norm(array, axis=1) <= ZERO_NORM).any():
        raise _invalid(f"{name} contain a zero vector", name)
    return unit_rows(array) if normalise else np.ascontiguousarray(array)


def as_vector(values: Any, dimension: int | None = None, *, name: str = "vector", **checks: Any) -> np.ndarray:
    """One vector (a flat list, not a matrix) as float32 of shape (dimension,); `checks` as for `as_vectors`."""
    if np.ndim(values) != 1:
        raise _invalid(f"{name} must be one flat vector, got shape {tuple(np.shape(values))}", name)
    return as_vectors(values, dimension, name=name, **checks)[0]


def unit_rows(matrix: np.ndarray) -> np.ndarray:
    """Rows scaled to unit length (zero rows stay zero): cosine similarity becomes a dot product."""
    matrix = np.asarray(matrix, dtype=np.float32)
    norms = np.linalg.norm(matrix, axis=-1, keepdims=True)
    norms[norms <= ZERO_NORM] = 1.0
    return np.ascontiguousarray(matrix / norms, dtype=np.float32)


def _invalid(message: str, name: str, array: np.ndarray | None = None) -> InvalidInput:
    details: dict[str, Any] = {"argument": name}
    if array is not None:
        details["shape"] = list(array.shape)
    return InvalidInput(message, code=INVALID_VECTOR, details=details)
