"""Vector indexes behind one small protocol; the factory picks a backend from a spec string."""

from latent.index.base import SearchResult, VectorIndex
from latent.index.factory import create_index, deserialize_index

__all__ = ["VectorIndex", "SearchResult", "create_index", "deserialize_index"]
