"""Build or load a `VectorIndex` from a spec string such as 'flat', 'hnsw:M=32', 'ivf-pq', 'auto'."""

from __future__ import annotations

import json
import re
import struct
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import Any

import numpy as np

from latent.errors import InvalidInput
from latent.index.base import VectorIndex

KINDS = ("flat", "numpy", "hnsw", "ivf-pq", "auto")
_ALIASES = {"ivfpq": "ivf-pq", "ivf_pq": "ivf-pq", "hnswflat": "hnsw"}
_MAGIC = b"LATENTIX1\n"
# Searches with at most this many queries run FAISS on one OpenMP thread (see `few_query_threads`).
SMALL_BATCH = 4
_UNITS = {
    "": 1,
    "b": 1,
    "k": 2**10,
    "kb": 10**3,
    "kib": 2**10,
    "m": 2**20,
    "mb": 10**6,
    "mib": 2**20,
    "g": 2**30,
    "gb": 10**9,
    "gib": 2**30,
    "t": 2**40,
    "tb": 10**12,
    "tib": 2**40,
}


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


def parse_bytes(value: str | int) -> int:
    """'8GiB', '512MB', '1000000' -> bytes."""
    if isinstance(value, int):
        return value
    match = re.fullmatch(r"\s*([0-9]*\.?[0-9]+)\s*([a-zA-Z]*)\s*", value)
    if not match or match.group(2).lower() not in _UNITS:
        raise InvalidInput(f"{value!r} is not a size such as 8GiB or 512MB", details={"value": value})
    return int(float(match.group(1)) * _UNITS[match.group(2).lower()])


def flag(value: str | int | bool) -> bool:
    """'1'/'true'/'yes'/'on' or '0'/'false'/'no'/'off' -> bool, for on/off index parameters."""
    text = str(value).strip().lower()
    if text in ("1", "true", "yes", "on"):
        return True
    if text in ("0", "false", "no", "off"):
        return False
    raise ValueError(f"{value!r} is not a flag")


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
        return cls(dimension)
    return cls.from_params(dimension, typed, size_hint=size_hint)


def deserialize_index(spec: str, dimension: int, data: bytes) -> VectorIndex:
    """Load bytes written by `serialize()`; the parameters travel inside the bytes for hnsw/ivf-pq/auto."""
    kind, params = parse_spec(spec)
    cls = _backend(kind, spec)
    return cls.deserialize(dimension, data, params)


def pack(kind: str, header: dict[str, Any], arrays: Mapping[str, np.ndarray]) -> bytes:
    """Frame a JSON header and raw arrays as one byte string (one copy of each array, no pickle)."""
    meta = dict(
        header,
        kind=kind,
        arrays=[
            {"name": name, "dtype": arr.dtype.str, "shape": list(arr.shape), "nbytes": int(arr.nbytes)}
            for name, arr in arrays.items()
        ],
    )
    head = json.dumps(meta).encode()
    parts = [_MAGIC, struct.pack("<Q", len(head)), head]
    parts += [memoryview(np.ascontiguousarray(arr)).cast("B") for arr in arrays.values()]
    return b"".join(parts)


def unpack(kind: str, data: bytes) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
    """Inverse of `pack`; arrays are read-only views into `data`."""
    view = memoryview(data)
    if bytes(view[: len(_MAGIC)]) != _MAGIC:
        raise InvalidInput(f"data is not a serialized {kind!r} index", details={"kind": kind})
    (head_len,) = struct.unpack_from("<Q", view, len(_MAGIC))
    offset = len(_MAGIC) + 8
    meta = json.loads(bytes(view[offset : offset + head_len]))
    if meta.get("kind") != kind:
        raise InvalidInput(
            f"data holds a {meta.get('kind')!r} index, not {kind!r}",
            details={"expected": kind, "got": meta.get("kind")},
        )
    offset += head_len
    arrays = {}
    for entry in meta.pop("arrays"):
        nbytes = entry["nbytes"]
        arr = np.frombuffer(view[offset : offset + nbytes], dtype=np.dtype(entry["dtype"]))
        arrays[entry["name"]] = arr.reshape(entry["shape"])
        offset += nbytes
    return meta, arrays


@contextmanager
def few_query_threads(nq: int) -> Iterator[None]:
    """Run FAISS single-threaded for a handful of queries.

    An OpenMP team for one query adds only a fork/join barrier, and on a busy machine that barrier waits
    for a descheduled thread: a 10k flat search measured 0.3 ms on one thread vs 20-110 ms on two with the
    2 cores shared. The setting is per calling thread, so concurrent requests do not disturb each other.
    """
    if nq > SMALL_BATCH:
        yield
        return
    import faiss

    before = faiss.omp_get_max_threads()
    faiss.omp_set_num_threads(1)
    try:
        yield
    finally:
        faiss.omp_set_num_threads(before)
