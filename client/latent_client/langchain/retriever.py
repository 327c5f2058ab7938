"""`LatentRetriever`: LangChain's vector-store retriever plus Latent's "hybrid" search type."""

from __future__ import annotations

from collections.abc import Collection
from typing import Any, ClassVar

from langchain_core.callbacks import AsyncCallbackManagerForRetrieverRun, CallbackManagerForRetrieverRun
from langchain_core.documents import Document
from langchain_core.vectorstores import VectorStoreRetriever


class LatentRetriever(VectorStoreRetriever):
    """LangChain's vector-store retriever plus Latent's "hybrid" search type (dense + BM25 fusion)."""

    allowed_search_types: ClassVar[Collection[str]] = ("similarity", "similarity_score_threshold", "mmr", "hybrid")

    def _get_relevant_documents(
        self, query: str, *, run_manager: CallbackManagerForRetrieverRun, **kwargs: Any
    ) -> list[Document]:
        if self.search_type == "hybrid" and hasattr(self.vectorstore, "hybrid_search"):
            return self.vectorstore.hybrid_search(query, **(self.search_kwargs | kwargs))
        return super()._get_relevant_documents(query, run_manager=run_manager, **kwargs)

    async def _aget_relevant_documents(
        self, query: str, *, run_manager: AsyncCallbackManagerForRetrieverRun, **kwargs: Any
    ) -> list[Document]:
        if self.search_type == "hybrid" and hasattr(self.vectorstore, "hybrid_search"):
            return await self.vectorstore.ahybrid_search(query, **(self.search_kwargs | kwargs))
        return await super()._aget_relevant_documents(query, run_manager=run_manager, **kwargs)
