"""Saved map reducers, loaded once and kept while their file is unchanged, and one lock per map."""

from __future__ import annotations

import threading
from pathlib import Path

from latent.errors import NotFound
from latent.maps.model import LatentMap

__all__ = ["load", "remember", "map_lock"]

_LOCK = threading.Lock()
_MAP_LOCKS: dict[int, threading.Lock] = {}
_LOADED: dict[str, tuple[float, LatentMap]] = {}  # path -> (mtime, map): reducers are costly to unpickle
_MAX_LOADED = 4


def map_lock(map_id: int) -> threading.Lock:
    with _LOCK:
        return _MAP_LOCKS.setdefault(map_id, threading.Lock())


def load(path: str) -> LatentMap:
    """The saved map, cached while its file is unchanged."""
    try:
        mtime = Path(path).stat().st_mtime
    except OSError as exc:
        raise NotFound(f"the map file {path!r} is missing", code="map_file_missing", details={"path": path}) from exc
    with _LOCK:
        cached = _LOADED.get(path)
        if cached is not None and cached[0] == mtime:
            return cached[1]
    model = LatentMap.load(path)
    remember(path, model, mtime)
    return model


def remember(path: str, model: LatentMap, mtime: float | None = None) -> None:
    if mtime is None:
        try:
            mtime = Path(path).stat().st_mtime
        except OSError:
            return
    with _LOCK:
        _LOADED.pop(path, None)
        _LOADED[path] = (mtime, model)
        while len(_LOADED) > _MAX_LOADED:
            _LOADED.pop(next(iter(_LOADED)))
