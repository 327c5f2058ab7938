"""After a write: bring derived state up to date, so that no read ever has to (reads never write).

Both shells call `after_write` right after a successful upsert: the HTTP documents route and the
indexer pipeline. Today that places new documents on the collection's newest map.
"""

from __future__ import annotations

from latent.maps.runs import place_on_current_map
from latent.store.collection import Collection

__all__ = ["after_write"]


def after_write(collection: Collection) -> None:
    """Derived state for documents just written: their points on the newest map (existing points stay)."""
    place_on_current_map(collection)
