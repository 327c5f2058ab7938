"""MMR for the store, done by the server: `recommend` with the query as the one example and
diversity = 1 - lambda_mult (Latent's maximal marginal relevance over its own candidate pool)."""

from __future__ import annotations

from typing import Any

from langchain_core.documents import Document

from latent_client.langchain._common import Filter, as_example


class MaximalMarginalRelevance:
    """The four LangChain MMR methods over the store's `_query`/`_aquery` (search spec of a text) and
    `_mmr`/`_ammr` (one recommend call); `fetch_k` is accepted and not sent."""

    def _query(self, query: str) -> dict[str, Any]:
        raise NotImplementedError

    async def _aquery(self, query: str) -> dict[str, Any]:
        raise NotImplementedError

    def _mmr(self, example: dict[str, Any], k: int, lambda_mult: float, filter: Filter | None) -> list[Document]:
        raise NotImplementedError

    async def _ammr(self, example: dict[str, Any], k: int, lambda_mult: float, filter: Filter | None) -> list[Document]:
        raise NotImplementedError

    def max_marginal_relevance_search(
        self,
        query: str,
        k: int = 4,
        fetch_k: int = 20,
        lambda_mult: float = 0.5,
        filter: Filter | None = None,
        **kwargs: Any,
    ) -> list[Document]:
        """MMR on the server: `recommend` with the query as example and diversity = 1 - lambda_mult.

        `fetch_k` is not sent: the server picks its own candidate pool.
        """
        return self._mmr(as_example(self._query(query)), k, lambda_mult, filter)

    async def amax_marginal_relevance_search(
        self,
        query: str,
        k: int = 4,
        fetch_k: int = 20,
        lambda_mult: float = 0.5,
        filter: Filter | None = None,
        **kwargs: Any,
    ) -> list[Document]:
        return await self._ammr(as_example(await self._aquery(query)), k, lambda_mult, filter)

    def max_marginal_relevance_search_by_vector(
        self,
        embedding: list[float],
        k: int = 4,
        fetch_k: int = 20,
        lambda_mult: float = 0.5,
        filter: Filter | None = None,
        **kwargs: Any,
    ) -> list[Document]:
        return self._mmr({"vector": list(embedding)}, k, lambda_mult, filter)

    async def amax_marginal_relevance_search_by_vector(
        self,
        embedding: list[float],
        k: int = 4,
        fetch_k: int = 20,
        lambda_mult: float = 0.5,
        filter: Filter | None = None,
        **kwargs: Any,
    ) -> list[Document]:
        return await self._ammr({"vector": list(embedding)}, k, lambda_mult, filter)
