"""LlamaIndex vector store over Latent: nodes go to a bring-your-own-vector collection of their dimension."""

from __future__ import annotations

from typing import Any

from llama_index.core.schema import BaseNode, TextNode
from llama_index.core.vector_stores.types import (
    BasePydanticVectorStore,
    FilterCondition,
    FilterOperator,
    MetadataFilter,
    MetadataFilters,
    VectorStoreQuery,
    VectorStoreQueryMode,
    VectorStoreQueryResult,
)
from pydantic import PrivateAttr

from latent_client.aio import AsyncLatentClient
from latent_client.errors import LatentHTTPError
from latent_client.sync import LatentClient

REF_KEY = "ref_doc_id"
_OPS = {
    FilterOperator.EQ: "$eq",
    FilterOperator.NE: "$ne",
    FilterOperator.GT: "$gt",
    FilterOperator.GTE: "$gte",
    FilterOperator.LT: "$lt",
    FilterOperator.LTE: "$lte",
    FilterOperator.IN: "$in",
    FilterOperator.NIN: "$nin",
    FilterOperator.CONTAINS: "$contains",
}


def to_filter(filters: MetadataFilters | None) -> dict[str, Any] | None:
    """LlamaIndex filters in Latent's (Chroma-style) language; an operator Latent lacks raises ValueError."""
    if filters is None or not filters.filters:
        return None
    parts: list[dict[str, Any]] = []
    for f in filters.filters:
        if isinstance(f, MetadataFilters):
            sub = to_filter(f)
            if sub is not None:
                parts.append(sub)
            continue
        parts.append(_one(f))
    if filters.condition == FilterCondition.NOT:
        return {"$not": parts[0] if len(parts) == 1 else {"$and": parts}}
    if len(parts) == 1:
        return parts[0]
    return {"$or" if filters.condition == FilterCondition.OR else "$and": parts}


def _one(f: MetadataFilter) -> dict[str, Any]:
    op = _OPS.get(FilterOperator(f.operator))
    if op is None:
        raise ValueError(f"Latent has no equivalent of the LlamaIndex filter operator {f.operator!r}")
    return {f.key: {op: f.value}}


def _document(node: BaseNode) -> dict[str, Any]:
    metadata = dict(node.metadata)
    if node.ref_doc_id is not None:
        metadata[REF_KEY] = node.ref_doc_id
    return {
        "id": node.node_id,
        "text": node.get_content(),
        "metadata": metadata,
        "vector": node.get_embedding(),
    }


class LatentVectorStore(BasePydanticVectorStore):
    """Stores nodes (text, metadata, embedding) in a Latent collection without an encoder.

    The collection is created on the first `add`, with the dimension of the first embedding.
    """

    stores_text: bool = True
    flat_metadata: bool = False
    collection: str
    url: str = "http://127.0.0.1:8000"
    api_key: str | None = None
    metric: str = "cosine"
    _client: LatentClient = PrivateAttr()
    _aclient: AsyncLatentClient = PrivateAttr()

    def __init__(self, collection: str, url: str = "http://127.0.0.1:8000", api_key: str | None = None, **kw: Any):
        super().__init__(collection=collection, url=url, api_key=api_key, **kw)
        self._client = LatentClient(url, api_key=api_key)
        self._aclient = AsyncLatentClient(url, api_key=api_key)

    @classmethod
    def class_name(cls) -> str:
        return "LatentVectorStore"

    @property
    def client(self) -> LatentClient:
        return self._client

    # ----- writes ---------------------------------------------------------------------------------------------
    def _ensure(self, dimension: int) -> None:
        try:
            self._client.create_collection(self.collection, dimension=dimension, metric=self.metric)  # type: ignore[arg-type]
        except LatentHTTPError as error:
            if error.code != "collection_exists":
                raise

    async def _aensure(self, dimension: int) -> None:
        try:
            await self._aclient.create_collection(self.collection, dimension=dimension, metric=self.metric)  # type: ignore[arg-type]
        except LatentHTTPError as error:
            if error.code != "collection_exists":
                raise

    def add(self, nodes: list[BaseNode], **kwargs: Any) -> list[str]:
        """Upsert the nodes (each must carry its embedding); returns their ids."""
        if not nodes:
            return []
        self._ensure(len(nodes[0].get_embedding()))
        self._client.upsert(self.collection, [_document(n) for n in nodes])
        return [n.node_id for n in nodes]

    async def async_add(self, nodes: list[BaseNode], **kwargs: Any) -> list[str]:
        if not nodes:
            return []
        await self._aensure(len(nodes[0].get_embedding()))
        await self._aclient.upsert(self.collection, [_document(n) for n in nodes])
        return [n.node_id for n in nodes]

    def delete(self, ref_doc_id: str, **delete_kwargs: Any) -> None:
        """Every node of the source document, found by Latent's metadata filter on ref_doc_id."""
        self._client.delete_documents(self.collection, filter={REF_KEY: ref_doc_id})

    async def adelete(self, ref_doc_id: str, **delete_kwargs: Any) -> None:
        await self._aclient.delete_documents(self.collection, filter={REF_KEY: ref_doc_id})

    # ----- reads ----------------------------------------------------------------------------------------------
    def _call(self, query: VectorStoreQuery) -> tuple[str, dict[str, Any]]:
        """Which endpoint and arguments a query mode maps to."""
        flags = {"with_text": True, "with_metadata": True, "filter": to_filter(query.filters)}
        k = query.similarity_top_k
        mode = query.mode
        if mode in (VectorStoreQueryMode.DEFAULT, VectorStoreQueryMode.MMR) and query.query_embedding is None:
            raise ValueError(f"{mode.value} needs a query embedding")
        if mode == VectorStoreQueryMode.DEFAULT:
            return "search", {"vector": query.query_embedding, "k": k, **flags}
        if mode in (VectorStoreQueryMode.SPARSE, VectorStoreQueryMode.TEXT_SEARCH):
            return "search", {"query": query.query_str, "mode": "sparse", "k": query.sparse_top_k or k, **flags}
        if mode == VectorStoreQueryMode.HYBRID:
            alpha = 0.5 if query.alpha is None else query.alpha
            weights = {"dense": alpha, "sparse": 1.0 - alpha}
            args = {"query": query.query_str, "vector": query.query_embedding, "mode": "hybrid", "weights": weights}
            return "search", {**args, "k": query.hybrid_top_k or k, **flags}
        if mode == VectorStoreQueryMode.MMR:
            threshold = query.mmr_threshold
            diversity = 0.5 if threshold is None else 1.0 - threshold
            positive = [{"vector": query.query_embedding}]
            return "recommend", {"positive": positive, "k": k, "diversity": diversity, **flags}
        raise ValueError(f"Latent does not support the query mode {mode.value!r}")

    @staticmethod
    def _result(hits: list[Any]) -> VectorStoreQueryResult:
        nodes: list[BaseNode] = []
        for hit in hits:
            metadata = dict(hit.metadata or {})
            ref = metadata.get(REF_KEY)
            node = TextNode(id_=hit.id, text=hit.text or "", metadata=metadata)
            if ref is not None:
                from llama_index.core.schema import NodeRelationship, RelatedNodeInfo

                node.relationships[NodeRelationship.SOURCE] = RelatedNodeInfo(node_id=ref)
            nodes.append(node)
        return VectorStoreQueryResult(nodes=nodes, similarities=[h.score for h in hits], ids=[h.id for h in hits])

    def query(self, query: VectorStoreQuery, **kwargs: Any) -> VectorStoreQueryResult:
        name, args = self._call(query)
        return self._result(getattr(self._client, name)(self.collection, **args).hits)

    async def aquery(self, query: VectorStoreQuery, **kwargs: Any) -> VectorStoreQueryResult:
        name, args = self._call(query)
        return self._result((await getattr(self._aclient, name)(self.collection, **args)).hits)

    def close(self) -> None:
        self._client.close()
