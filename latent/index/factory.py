"""Build or load a `VectorIndex` from a spec string such as 'flat', 'hnsw:M=32', 'ivf-pq', 'auto'."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from latent.errors import InvalidInput
from latent.index.base import VectorIndex

KINDS = ("flat", "numpy", "hnsw", "ivf-pq", "auto")
_ALIASES = {"ivfpq": "ivf-pq", "ivf_pq": "ivf-pq", "hnswflat": "hnsw"}


def parse_spec(spec: str) -> tuple[str, dict[str, str]]:
    """'hnsw:M=32,ef_search=64' -> ('hnsw', {'M': '32', 'ef_search': '64'})."""
    kind, _, rest = spec.strip().partition(":")
    params = {}
    for part in filter(None, rest.split(",")):
        key, sep, value = part.partition("=")
        if not sep:
            raise InvalidInput(f"index parameter {part!r} is not key=value", details={"spec": spec})
        params[key.strip()] = value.strip()
    kind = kind.strip().lower()
    return _ALIASES.get(kind, kind), params


def typed_params(kind: str, params: Mapping[str, str], schema: Mapping[str, Any]) -> dict[str, Any]:
    """Convert spec strings to the types a backend's `PARAMS` schema names; unknown keys are an error."""
    out: dict[str, Any] = {}
    for key, raw in params.items():
        if key not in schema:
            raise InvalidInput(
                f"index type {kind!r} has no parameter {key!r}; known: {', '.join(schema)}",
                details={"kind": kind, "parameter": key},
            )
        convert = schema[key]
        try:
            value = convert(raw)
        except (TypeError, ValueError) as exc:
            raise InvalidInput(
                f"index parameter {key}={raw!r} is not a valid {getattr(convert, '__name__', 'value')}",
                details={"kind": kind, "parameter": key, "value": raw},
            ) from exc
        if isinstance(value, int | float) and not isinstance(value, bool) and value <= 0:
            raise InvalidInput(f"index parameter {key} must be positive", details={"parameter": key, "value": raw})
        out[key] = value
    return out


def _backend(kind: str, spec: str) -> Any:
    if kind == "flat":
        from latent.index.flat import FlatIndex

        return FlatIndex
    if kind == "numpy":
        from latent.index.reference import NumpyIndex

        return NumpyIndex
    if kind == "hnsw":
        from latent.index.hnsw import HNSWIndex

        return HNSWIndex
    if kind == "ivf-pq":
        from latent.index.ivfpq import IVFPQIndex

        return IVFPQIndex
    if kind == "auto":
        from latent.index.auto import AutoIndex

        return AutoIndex
    raise InvalidInput(f"unknown index type {kind!r}; choose one of {', '.join(KINDS)}", details={"spec": spec})


def create_index(spec: str, dimension: int, *, size_hint: int | None = None) -> VectorIndex:
    """A new empty index; `size_hint` (expected vectors) lets 'auto' and 'ivf-pq' size themselves."""
    kind, params = parse_spec(spec)
    cls = _backend(kind, spec)
    schema = getattr(cls, "PARAMS", {})
    typed = typed_params(kind, params, schema)
    if kind in ("flat", "numpy"):
        return cls(dimension, metric=typed.get("metric", "ip"))
    return cls.from_params(dimension, typed, size_hint=size_hint)


def spec_with_metric(spec: str, metric: str) -> str:
    """The spec an index of a collection with `metric` is built from: cosine and dot are inner products
    (cosine over vectors the store normalised), so their spec is the collection's own; l2 adds `metric=l2`.

    The metric travels in the spec so every place that builds or loads the index (the store's rebuilds,
    replays, index files) builds the same kind without being told separately.
    """
    if metric not in ("l2", "euclid"):
        return spec
    kind, params = parse_spec(spec)
    params = dict(params, metric="l2")
    return kind + ":" + ",".join(f"{key}={value}" for key, value in params.items())


def deserialize_index(spec: str, dimension: int, data: bytes) -> VectorIndex:
    """Load bytes written by `serialize()`; the parameters travel inside the bytes for hnsw/ivf-pq/auto."""
    kind, params = parse_spec(spec)
    cls = _backend(kind, spec)
    return cls.deserialize(dimension, data, params)
