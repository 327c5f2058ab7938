"""`LatentVectorStore`: a Latent collection as a LangChain `VectorStore`, sync over `LatentClient` and async
over `AsyncLatentClient` (real asyncio I/O, no thread pool)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterable, Sequence
from typing import Any

from langchain_core.documents import Document
from langchain_core.embeddings import Embeddings
from langchain_core.vectorstores import VectorStore

from latent_client.aio import AsyncLatentClient
from latent_client.errors import LatentHTTPError
from latent_client.langchain._common import (
    Filter,
    delete_args,
    document_of,
    filled_ids,
    is_missing,
    mmr_args,
    payloads,
    relevance_fn,
)
from latent_client.langchain.mmr import MaximalMarginalRelevance
from latent_client.langchain.retriever import LatentRetriever
from latent_client.models import Collection as CollectionInfo
from latent_client.sync import LatentClient


class LatentVectorStore(MaximalMarginalRelevance, VectorStore):
    """A Latent collection as a LangChain vector store; the collection is created on first use if absent.

    Args:
        embedding: `None`: the server's model embeds texts and queries. An `Embeddings`: vectors are made
            here and sent; the collection (if created here) has no model and their dimension.
        url: the service's base URL.
        collection: the collection's name.
        api_key: sent as a bearer token (none: the service's open mode).
        model: the server model of a collection created here with `embedding=None` (default: the service's).
        metric: the metric of a bring-your-own-vector collection created here (cosine, dot, l2).
        index: the index spec of a collection created here (flat, hnsw, auto, ...).
        batch_size: documents per upsert request.
        timeout: seconds per request.
    """

    def __init__(
        self,
        embedding: Embeddings | None = None,
        *,
        url: str = "http://127.0.0.1:8000",
        collection: str,
        api_key: str | None = None,
        model: str | None = None,
        metric: str = "cosine",
        index: str | None = None,
        batch_size: int = 256,
        timeout: float = 60.0,
    ):
        self._embedding = embedding
        self.url = url
        self.collection = collection
        self._api_key = api_key
        self._model = model
        self._metric = metric
        self._index = index
        self._batch_size = batch_size
        self._timeout = timeout
        self.client = LatentClient(url, api_key=api_key, timeout=timeout)
        self._aclients: dict[int, tuple[asyncio.AbstractEventLoop, AsyncLatentClient]] = {}
        self._info: CollectionInfo | None = None

    # ----- plumbing -------------------------------------------------------------------------------------------
    @property
    def embeddings(self) -> Embeddings | None:
        return self._embedding

    @property
    def aclient(self) -> AsyncLatentClient:
        """The async client of the running event loop (an httpx.AsyncClient is bound to the loop it ran on)."""
        loop = asyncio.get_running_loop()
        held = self._aclients.get(id(loop))
        if held is None or held[0] is not loop:
            self._aclients = {k: v for k, v in self._aclients.items() if not v[0].is_closed()}  # forget dead loops
            held = (loop, AsyncLatentClient(self.url, api_key=self._api_key, timeout=self._timeout))
            self._aclients[id(loop)] = held
        return held[1]

    def close(self) -> None:
        """Close the sync client (async clients close with `aclose`)."""
        self.client.close()

    async def aclose(self) -> None:
        """Close this event loop's async client."""
        held = self._aclients.pop(id(asyncio.get_running_loop()), None)
        if held is not None:
            await held[1].aclose()

    def _create_args(self, dimension: int | None) -> dict[str, Any]:
        if self._embedding is None:
            return {"model": self._model, "index": self._index}
        return {"index": self._index, "dimension": dimension, "metric": self._metric}

    def _check(self, info: CollectionInfo) -> CollectionInfo:
        if self._embedding is None and not info.encoder:
            raise ValueError(f"collection {info.name!r} has no model: pass an Embeddings object")
        if self._embedding is not None and info.encoder:
            raise ValueError(f"collection {info.name!r} embeds on the server ({info.model}): pass embedding=None")
        self._info = info
        return info

    def _ensure(self, dimension: int | None = None) -> CollectionInfo:
        """The collection's description, creating the collection if it does not exist."""
        if self._info is not None:
            return self._info
        try:
            return self._check(self.client.get_collection(self.collection))
        except LatentHTTPError as error:
            if not is_missing(error):
                raise
        if self._embedding is not None and dimension is None:
            dimension = len(self._embedding.embed_query("dimension"))
        try:
            return self._check(self.client.create_collection(self.collection, **self._create_args(dimension)))
        except LatentHTTPError as error:  # created meanwhile by someone else
            if error.status != 409:
                raise
            return self._check(self.client.get_collection(self.collection))

    async def _aensure(self, dimension: int | None = None) -> CollectionInfo:
        if self._info is not None:
            return self._info
        client = self.aclient
        try:
            return self._check(await client.get_collection(self.collection))
        except LatentHTTPError as error:
            if not is_missing(error):
                raise
        if self._embedding is not None and dimension is None:
            dimension = len(await self._embedding.aembed_query("dimension"))
        try:
            return self._check(await client.create_collection(self.collection, **self._create_args(dimension)))
        except LatentHTTPError as error:
            if error.status != 409:
                raise
            return self._check(await client.get_collection(self.collection))

    def delete_collection(self) -> None:
        """Drop the collection with its documents (admin scope); a later call creates it again."""
        try:
            self.client.delete_collection(self.collection)
        except LatentHTTPError as error:
            if not is_missing(error):
                raise
        self._info = None

    async def adelete_collection(self) -> None:
        try:
            await self.aclient.delete_collection(self.collection)
        except LatentHTTPError as error:
            if not is_missing(error):
                raise
        self._info = None

    # ----- writes ---------------------------------------------------------------------------------------------
    def add_texts(
        self,
        texts: Iterable[str],
        metadatas: list[dict[str, Any]] | None = None,
        *,
        ids: list[str] | None = None,
        **kwargs: Any,
    ) -> list[str]:
        """Upsert the texts: a given id replaces its document (never a duplicate); missing ids get a uuid4."""
        texts = list(texts)
        ids = filled_ids(len(texts), ids)
        vectors = self._embedding.embed_documents(texts) if self._embedding is not None and texts else None
        self._ensure(len(vectors[0]) if vectors else None)
        docs = payloads(texts, metadatas, ids, vectors)
        for start in range(0, len(docs), self._batch_size):
            self.client.upsert(self.collection, docs[start : start + self._batch_size])
        return ids

    async def aadd_texts(
        self,
        texts: Iterable[str],
        metadatas: list[dict[str, Any]] | None = None,
        *,
        ids: list[str] | None = None,
        **kwargs: Any,
    ) -> list[str]:
        texts = list(texts)
        ids = filled_ids(len(texts), ids)
        vectors = await self._embedding.aembed_documents(texts) if self._embedding is not None and texts else None
        await self._aensure(len(vectors[0]) if vectors else None)
        docs = payloads(texts, metadatas, ids, vectors)
        for start in range(0, len(docs), self._batch_size):
            await self.aclient.upsert(self.collection, docs[start : start + self._batch_size])
        return ids

    def delete(self, ids: list[str] | None = None, **kwargs: Any) -> bool | None:
        """Delete by ids (missing ones ignored) or by a non-empty `filter=...` (Latent's filter language)."""
        self._ensure()
        self.client.delete_documents(self.collection, **delete_args(ids, kwargs.get("filter")))
        return True

    async def adelete(self, ids: list[str] | None = None, **kwargs: Any) -> bool | None:
        await self._aensure()
        await self.aclient.delete_documents(self.collection, **delete_args(ids, kwargs.get("filter")))
        return True

    # ----- reads ----------------------------------------------------------------------------------------------
    def get_by_ids(self, ids: Sequence[str], /) -> list[Document]:
        """The stored documents of these ids, in their order; unknown ids are left out."""
        self._ensure()
        found: list[Document] = []
        for doc_id in ids:
            try:
                doc = self.client.get_document(self.collection, doc_id)
            except LatentHTTPError as error:
                if not is_missing(error):
                    raise
                continue
            found.append(Document(id=doc.id, page_content=doc.text, metadata=doc.metadata))
        return found

    async def aget_by_ids(self, ids: Sequence[str], /) -> list[Document]:
        await self._aensure()

        async def one(doc_id: str) -> Document | None:
            try:
                doc = await self.aclient.get_document(self.collection, doc_id)
            except LatentHTTPError as error:
                if not is_missing(error):
                    raise
                return None
            return Document(id=doc.id, page_content=doc.text, metadata=doc.metadata)

        found = await asyncio.gather(*(one(i) for i in ids))
        return [d for d in found if d is not None]

    def _query(self, query: str) -> dict[str, Any]:
        if self._embedding is None:
            return {"query": query}
        return {"vector": self._embedding.embed_query(query)}

    async def _aquery(self, query: str) -> dict[str, Any]:
        if self._embedding is None:
            return {"query": query}
        return {"vector": await self._embedding.aembed_query(query)}

    def _search(self, k: int, filter: Filter | None, **spec: Any) -> list[tuple[Document, float]]:
        self._ensure()
        result = self.client.search(self.collection, k=k, filter=filter, with_text=True, with_metadata=True, **spec)
        return [(document_of(hit), hit.score) for hit in result.hits]

    async def _asearch(self, k: int, filter: Filter | None, **spec: Any) -> list[tuple[Document, float]]:
        await self._aensure()
        client = self.aclient
        result = await client.search(self.collection, k=k, filter=filter, with_text=True, with_metadata=True, **spec)
        return [(document_of(hit), hit.score) for hit in result.hits]

    def similarity_search(self, query: str, k: int = 4, filter: Filter | None = None, **kwargs: Any) -> list[Document]:
        return [doc for doc, _ in self.similarity_search_with_score(query, k, filter)]

    async def asimilarity_search(
        self, query: str, k: int = 4, filter: Filter | None = None, **kwargs: Any
    ) -> list[Document]:
        return [doc for doc, _ in await self.asimilarity_search_with_score(query, k, filter)]

    def similarity_search_with_score(
        self, query: str, k: int = 4, filter: Filter | None = None, **kwargs: Any
    ) -> list[tuple[Document, float]]:
        """Top-k documents with Latent's score (higher is nearer: cosine, dot, or minus squared L2)."""
        return self._search(k, filter, **self._query(query))

    async def asimilarity_search_with_score(
        self, query: str, k: int = 4, filter: Filter | None = None, **kwargs: Any
    ) -> list[tuple[Document, float]]:
        return await self._asearch(k, filter, **await self._aquery(query))

    def similarity_search_by_vector(
        self, embedding: list[float], k: int = 4, filter: Filter | None = None, **kwargs: Any
    ) -> list[Document]:
        return [doc for doc, _ in self._search(k, filter, vector=list(embedding))]

    async def asimilarity_search_by_vector(
        self, embedding: list[float], k: int = 4, filter: Filter | None = None, **kwargs: Any
    ) -> list[Document]:
        return [doc for doc, _ in await self._asearch(k, filter, vector=list(embedding))]

    def hybrid_search(
        self, query: str, k: int = 4, filter: Filter | None = None, rrf_k: int | None = None, **kwargs: Any
    ) -> list[Document]:
        """Dense plus BM25, fused by reciprocal rank on the server (`weights={"dense": .., "sparse": ..}`)."""
        spec = {**self._query(query), "query": query}
        hits = self._search(k, filter, mode="hybrid", rrf_k=rrf_k, weights=kwargs.get("weights"), **spec)
        return [doc for doc, _ in hits]

    async def ahybrid_search(
        self, query: str, k: int = 4, filter: Filter | None = None, rrf_k: int | None = None, **kwargs: Any
    ) -> list[Document]:
        spec = {**await self._aquery(query), "query": query}
        hits = await self._asearch(k, filter, mode="hybrid", rrf_k=rrf_k, weights=kwargs.get("weights"), **spec)
        return [doc for doc, _ in hits]

    def _mmr(self, example: dict[str, Any], k: int, lambda_mult: float, filter: Filter | None) -> list[Document]:
        self._ensure()
        result = self.client.recommend(self.collection, [example], **mmr_args(k, lambda_mult, filter))
        return [document_of(hit) for hit in result.hits]

    async def _ammr(self, example: dict[str, Any], k: int, lambda_mult: float, filter: Filter | None) -> list[Document]:
        await self._aensure()
        result = await self.aclient.recommend(self.collection, [example], **mmr_args(k, lambda_mult, filter))
        return [document_of(hit) for hit in result.hits]

    # ----- scores, retriever, constructors --------------------------------------------------------------------
    def _select_relevance_score_fn(self) -> Callable[[float], float]:
        return relevance_fn(self._info.metric if self._info is not None else self._metric)

    def as_retriever(self, **kwargs: Any) -> LatentRetriever:
        """A retriever; `search_type` is "similarity" (default), "mmr", "similarity_score_threshold" or "hybrid"."""
        tags = kwargs.pop("tags", None) or [*self._get_retriever_tags()]
        return LatentRetriever(vectorstore=self, tags=tags, **kwargs)

    @classmethod
    def from_texts(
        cls,
        texts: list[str],
        embedding: Embeddings | None = None,
        metadatas: list[dict[str, Any]] | None = None,
        *,
        ids: list[str] | None = None,
        **kwargs: Any,
    ) -> LatentVectorStore:
        """A store on `collection=` at `url=` (keyword arguments of the constructor) holding these texts."""
        store = cls(embedding, **kwargs)
        store.add_texts(texts, metadatas, ids=ids)
        return store

    @classmethod
    async def afrom_texts(
        cls,
        texts: list[str],
        embedding: Embeddings | None = None,
        metadatas: list[dict[str, Any]] | None = None,
        *,
        ids: list[str] | None = None,
        **kwargs: Any,
    ) -> LatentVectorStore:
        store = cls(embedding, **kwargs)
        await store.aadd_texts(texts, metadatas, ids=ids)
        return store
