"""Endpoints that read by meaning: search, neighbours, recommendations, profiles, embed and tokenize."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Literal

from latent_client._endpoint import body, operation, query, seg, typed, under
from latent_client._transport import Call
from latent_client.models import (
    BatchSearchResult,
    Deleted,
    Embeddings,
    Event,
    EventsRecorded,
    Example,
    Mode,
    Neighbors,
    NeighborsBatch,
    OpenAIEmbeddingList,
    Profile,
    Recommendations,
    SearchResult,
    Strategy,
    Tokenization,
)

ExampleLike = str | Example | Mapping[str, Any]
EventLike = Event | Mapping[str, Any]
Vector = Sequence[float]


def _example(value: ExampleLike) -> str | dict[str, Any]:
    if isinstance(value, str):
        return value
    return Example.model_validate(value).model_dump(mode="json", exclude_none=True)


class QueryEndpoints:
    """Search, neighbours, recommend, profiles, embed, tokenize, OpenAI-style embeddings."""

    # ----- search ---------------------------------------------------------------------------------------------
    @operation("search-search")
    def search(
        collection: str,
        query: str | None = None,
        *,
        vector: Vector | None = None,
        k: int = 10,
        offset: int = 0,
        filter: Mapping[str, Any] | None = None,
        mode: Mode = "dense",
        rrf_k: int | None = None,
        weights: Mapping[str, float] | None = None,
        with_text: bool = False,
        with_metadata: bool = False,
        with_vector: bool = False,
    ) -> Call[SearchResult]:
        """Top-k documents for a query text or a vector; `filter` (Mongo-style) selects candidates first.

        `mode`: dense (vectors), sparse (BM25) or hybrid (reciprocal-rank fusion with `rrf_k` and
        `weights={"dense": 1.0, "sparse": 1.0}`).
        """
        payload = body(
            query=query,
            vector=vector,
            k=k,
            offset=offset,
            filter=filter,
            mode=mode,
            rrf_k=rrf_k,
            weights=weights,
            with_text=with_text,
            with_metadata=with_metadata,
            with_vector=with_vector,
        )
        return Call("POST", under(collection, "/search"), typed(SearchResult), json=payload)

    @operation("search-search_batch")
    def search_batch(
        collection: str,
        queries: Sequence[str] | None = None,
        *,
        vectors: Sequence[Vector] | None = None,
        k: int = 10,
        offset: int = 0,
        filter: Mapping[str, Any] | None = None,
        mode: Mode = "dense",
        rrf_k: int | None = None,
        weights: Mapping[str, float] | None = None,
        with_text: bool = False,
        with_metadata: bool = False,
        with_vector: bool = False,
    ) -> Call[BatchSearchResult]:
        """Many queries (texts or vectors) in one call, with the options of `search`; one result per query."""
        payload = body(
            queries=queries,
            vectors=vectors,
            k=k,
            offset=offset,
            filter=filter,
            mode=mode,
            rrf_k=rrf_k,
            weights=weights,
            with_text=with_text,
            with_metadata=with_metadata,
            with_vector=with_vector,
        )
        return Call("POST", under(collection, "/search/batch"), typed(BatchSearchResult), json=payload)

    @operation("search-neighbors")
    def neighbors(
        collection: str,
        doc_id: str,
        k: int = 10,
        filter: Mapping[str, Any] | None = None,
        *,
        with_text: bool = False,
        with_metadata: bool = False,
        with_vector: bool = False,
    ) -> Call[Neighbors]:
        """The k documents nearest a stored one (itself excluded)."""
        params = query(k=k, filter=filter, with_text=with_text, with_metadata=with_metadata, with_vector=with_vector)
        return Call("GET", under(collection, f"/neighbors/{seg(doc_id)}"), typed(Neighbors), params=params)

    # ----- recommendations ------------------------------------------------------------------------------------
    @operation("recommend-recommend")
    def recommend(
        collection: str,
        positive: Sequence[ExampleLike] = (),
        negative: Sequence[ExampleLike] = (),
        *,
        k: int = 10,
        strategy: Strategy = "average_vector",
        filter: Mapping[str, Any] | None = None,
        exclude: Sequence[str] = (),
        exclude_examples: bool = True,
        diversity: float = 0.0,
        missing: Literal["error", "ignore"] = "error",
        with_text: bool = False,
        with_metadata: bool = False,
        with_vector: bool = False,
    ) -> Call[Recommendations]:
        """Documents like the positive examples and unlike the negative ones, each with why.

        An example is a stored id (a string), an `Example`, or {"id"|"text"|"vector": ..., "weight": 1.0}.
        """
        payload = body(
            positive=[_example(e) for e in positive],
            negative=[_example(e) for e in negative],
            k=k,
            strategy=strategy,
            filter=filter,
            exclude=list(exclude),
            exclude_examples=exclude_examples,
            diversity=diversity,
            missing=missing,
            with_text=with_text,
            with_metadata=with_metadata,
            with_vector=with_vector,
        )
        return Call("POST", under(collection, "/recommend"), typed(Recommendations), json=payload)

    @operation("recommend-neighbors_batch")
    def neighbors_batch(
        collection: str, ids: Sequence[str], k: int = 10, filter: Mapping[str, Any] | None = None
    ) -> Call[NeighborsBatch]:
        """The k nearest documents of each stored id ("more like these"); unknown ids are listed in `missing`."""
        payload = body(ids=list(ids), k=k, filter=filter)
        return Call("POST", under(collection, "/neighbors/batch"), typed(NeighborsBatch), json=payload)

    # ----- profiles -------------------------------------------------------------------------------------------
    @operation("profiles-record_events")
    def record_events(collection: str, user: str, events: Sequence[EventLike]) -> Call[EventsRecorded]:
        """Record interaction events of a user, all or none (not resent on a lost answer: events add up)."""
        payload = {"events": [Event.model_validate(e).model_dump(mode="json", exclude_none=True) for e in events]}
        path = under(collection, f"/profiles/{seg(user)}/events")
        return Call("POST", path, typed(EventsRecorded), json=payload, idempotent=False)

    @operation("profiles-get")
    def get_profile(collection: str, user: str, offset: int = 0, limit: int = 100) -> Call[Profile]:
        """A user's events, newest first, and counts per kind."""
        path = under(collection, f"/profiles/{seg(user)}")
        return Call("GET", path, typed(Profile), params=query(offset=offset, limit=limit))

    @operation("profiles-delete")
    def delete_profile(collection: str, user: str) -> Call[Deleted]:
        """Forget a user: `deleted` counts the events."""
        return Call("DELETE", under(collection, f"/profiles/{seg(user)}"), typed(Deleted))

    @operation("profiles-recommendations")
    def profile_recommendations(
        collection: str,
        user: str,
        k: int = 10,
        *,
        filter: Mapping[str, Any] | None = None,
        diversity: float = 0.0,
        half_life_days: float = 30.0,
        strategy: Strategy = "average_vector",
        with_text: bool = False,
        with_metadata: bool = False,
        with_vector: bool = False,
    ) -> Call[Recommendations]:
        """Documents for the user from their history (likes pull, dislikes push), never ones already seen."""
        params = query(
            k=k,
            filter=filter,
            diversity=diversity,
            half_life_days=half_life_days,
            strategy=strategy,
            with_text=with_text,
            with_metadata=with_metadata,
            with_vector=with_vector,
        )
        path = under(collection, f"/profiles/{seg(user)}/recommendations")
        return Call("GET", path, typed(Recommendations), params=params)

    # ----- embed ----------------------------------------------------------------------------------------------
    @operation("embed-embed")
    def embed(texts: Sequence[str], collection: str | None = None) -> Call[Embeddings]:
        """Unit-length vectors from the service's model, or from a collection's model."""
        return Call("POST", "/v1/embed", typed(Embeddings), json=body(texts=list(texts), collection=collection))

    @operation("embed-tokenize")
    def tokenize(texts: Sequence[str], collection: str | None = None) -> Call[Tokenization]:
        """Tokens and ids of each text, and whether indexing would split it into chunks."""
        payload = body(texts=list(texts), collection=collection)
        return Call("POST", "/v1/tokenize", typed(Tokenization), json=payload)

    @operation("openai-embeddings")
    def openai_embeddings(
        input: str | Sequence[str],
        model: str,
        *,
        encoding_format: Literal["float", "base64"] = "float",
        dimensions: int | None = None,
        user: str | None = None,
    ) -> Call[OpenAIEmbeddingList]:
        """OpenAI's `POST /v1/embeddings`: the same vectors as `embed`, in OpenAI's shapes."""
        payload = body(
            input=input if isinstance(input, str) else list(input),
            model=model,
            encoding_format=encoding_format,
            dimensions=dimensions,
            user=user,
        )
        return Call("POST", "/v1/embeddings", typed(OpenAIEmbeddingList), json=payload)
