"""LangChain integration (the `latent-client[langchain]` extra): `LatentVectorStore` and `LatentRetriever`.

With `embedding=None` the server embeds (texts are sent, queries are texts); with an `Embeddings` object
vectors are made here and the collection is a bring-your-own-vector one of their dimension.

    store = LatentVectorStore(url="http://127.0.0.1:8000", collection="notes")
    store.add_texts(["red apple", "green pear"], ids=["a", "b"])
    store.similarity_search("apple", k=1)
"""

from __future__ import annotations

try:
    import langchain_core  # noqa: F401
except ImportError as exc:  # pragma: no cover - depends on the environment
    raise ImportError("latent_client.langchain needs langchain-core: pip install 'latent-client[langchain]'") from exc

from latent_client.langchain.retriever import LatentRetriever
from latent_client.langchain.store import LatentVectorStore

__all__ = ["LatentRetriever", "LatentVectorStore"]
