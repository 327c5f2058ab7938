"""A typed Python client for the Latent HTTP API (httpx), mirroring the endpoints one method each.

with LatentClient("http://127.0.0.1:8000", api_key="lk_…") as client:
    client.create_collection("papers")
    client.upsert("papers", [{"id": "a", "text": "…"}])
    hits = client.search("papers", "protein folding", k=5, mode="hybrid").hits
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from typing import Any, TypeVar
from urllib.parse import quote

import httpx
from pydantic import BaseModel

from service.schemas.collections import CollectionPublic, CollectionsPublic
from service.schemas.common import Deleted
from service.schemas.documents import DocumentCreate, DocumentPublic, DocumentsPublic, UpsertPublic
from service.schemas.embed import EmbedResponse, TokenizeResponse
from service.schemas.recommend import (
    EventsRecorded,
    NeighborsBatchResponse,
    ProfileDeleted,
    ProfilePublic,
    RecommendResponse,
)
from service.schemas.search import BatchSearchResponse, NeighborsResponse, SearchResponse

M = TypeVar("M", bound=BaseModel)
Document = DocumentCreate | Mapping[str, Any]


class LatentHTTPError(Exception):
    """An error answer from the service, unpacked from its envelope."""

    def __init__(self, status: int, code: str, message: str, details: dict[str, Any] | None = None):
        super().__init__(f"{status} {code}: {message}")
        self.status = status
        self.code = code
        self.message = message
        self.details = details or {}


class LatentClient:
    """Synchronous client; pass `http` to reuse a client (e.g. FastAPI's TestClient in tests)."""

    def __init__(
        self,
        base_url: str = "http://127.0.0.1:8000",
        api_key: str | None = None,
        timeout: float = 60.0,
        http: httpx.Client | None = None,
    ):
        headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
        self._owned = http is None
        self.http = http or httpx.Client(base_url=base_url, timeout=timeout)
        self._headers = headers

    def close(self) -> None:
        if self._owned:
            self.http.close()

    def __enter__(self) -> LatentClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # ----- plumbing ----------------------------------------------------------------------------
    def _request(
        self, method: str, path: str, *, json_body: Any = None, params: Mapping[str, Any] | None = None
    ) -> httpx.Response:
        response = self.http.request(method, path, json=json_body, params=params, headers=self._headers)
        if response.status_code >= 400:
            raise _error(response)
        return response

    def _model(self, model: type[M], method: str, path: str, **kwargs: Any) -> M:
        return model.model_validate(self._request(method, path, **kwargs).json())

    # ----- health ------------------------------------------------------------------------------
    def health(self) -> dict[str, Any]:
        return self._request("GET", "/healthz").json()

    def ready(self) -> dict[str, Any]:
        return self._request("GET", "/readyz").json()

    def metrics(self) -> str:
        return self._request("GET", "/metrics").text

    # ----- collections -------------------------------------------------------------------------
    def list_collections(self) -> CollectionsPublic:
        return self._model(CollectionsPublic, "GET", "/v1/collections")

    def create_collection(self, name: str, model: str | None = None, index: str | None = None) -> CollectionPublic:
        body = {k: v for k, v in {"name": name, "model": model, "index": index}.items() if v is not None}
        return self._model(CollectionPublic, "POST", "/v1/collections", json_body=body)

    def get_collection(self, name: str) -> CollectionPublic:
        return self._model(CollectionPublic, "GET", f"/v1/collections/{_seg(name)}")

    def delete_collection(self, name: str) -> None:
        self._request("DELETE", f"/v1/collections/{_seg(name)}")

    # ----- documents ---------------------------------------------------------------------------
    def upsert(self, collection: str, documents: Iterable[Document]) -> UpsertPublic:
        docs = [d.model_dump() if isinstance(d, DocumentCreate) else dict(d) for d in documents]
        return self._model(
            UpsertPublic,
            "PUT",
            f"/v1/collections/{_seg(collection)}/documents",
            json_body={"documents": docs},
        )

    def get_document(self, collection: str, doc_id: str) -> DocumentPublic:
        return self._model(DocumentPublic, "GET", f"/v1/collections/{_seg(collection)}/documents/{_seg(doc_id)}")

    def list_documents(
        self, collection: str, offset: int = 0, limit: int = 100, filter: Mapping[str, Any] | None = None
    ) -> DocumentsPublic:
        params: dict[str, Any] = {"offset": offset, "limit": limit}
        if filter is not None:
            params["filter"] = json.dumps(filter)
        return self._model(DocumentsPublic, "GET", f"/v1/collections/{_seg(collection)}/documents", params=params)

    def delete_document(self, collection: str, doc_id: str) -> Deleted:
        return self._model(Deleted, "DELETE", f"/v1/collections/{_seg(collection)}/documents/{_seg(doc_id)}")

    def delete_documents(
        self, collection: str, ids: Sequence[str] | None = None, filter: Mapping[str, Any] | None = None
    ) -> Deleted:
        body = {"ids": list(ids)} if ids is not None else {"filter": dict(filter or {})}
        return self._model(Deleted, "POST", f"/v1/collections/{_seg(collection)}/documents/delete", json_body=body)

    # ----- search ------------------------------------------------------------------------------
    def search(
        self,
        collection: str,
        query: str | None = None,
        *,
        vector: Sequence[float] | None = None,
        k: int = 10,
        **options: Any,
    ) -> SearchResponse:
        """Options: offset, filter, mode, rrf_k, weights, with_text, with_metadata, with_vector."""
        body = {"k": k, **options}
        if query is not None:
            body["query"] = query
        if vector is not None:
            body["vector"] = [float(x) for x in vector]
        return self._model(SearchResponse, "POST", f"/v1/collections/{_seg(collection)}/search", json_body=body)

    def search_batch(
        self,
        collection: str,
        queries: Sequence[str] | None = None,
        *,
        vectors: Sequence[Sequence[float]] | None = None,
        k: int = 10,
        **options: Any,
    ) -> BatchSearchResponse:
        body = {"k": k, **options}
        if queries is not None:
            body["queries"] = list(queries)
        if vectors is not None:
            body["vectors"] = [[float(x) for x in v] for v in vectors]
        return self._model(
            BatchSearchResponse, "POST", f"/v1/collections/{_seg(collection)}/search/batch", json_body=body
        )

    def neighbors(
        self,
        collection: str,
        doc_id: str,
        k: int = 10,
        filter: Mapping[str, Any] | None = None,
        **flags: bool,
    ) -> NeighborsResponse:
        """Flags: with_text, with_metadata, with_vector."""
        params: dict[str, Any] = {"k": k, **{name: str(value).lower() for name, value in flags.items()}}
        if filter is not None:
            params["filter"] = json.dumps(filter)
        return self._model(
            NeighborsResponse,
            "GET",
            f"/v1/collections/{_seg(collection)}/neighbors/{_seg(doc_id)}",
            params=params,
        )

    # ----- embed -------------------------------------------------------------------------------
    def embed(self, texts: Sequence[str], collection: str | None = None) -> EmbedResponse:
        body: dict[str, Any] = {"texts": list(texts)}
        if collection is not None:
            body["collection"] = collection
        return self._model(EmbedResponse, "POST", "/v1/embed", json_body=body)

    def tokenize(self, texts: Sequence[str], collection: str | None = None) -> TokenizeResponse:
        body: dict[str, Any] = {"texts": list(texts)}
        if collection is not None:
            body["collection"] = collection
        return self._model(TokenizeResponse, "POST", "/v1/tokenize", json_body=body)

    # ----- recommendations and profiles -----------------------------------------------------------
    def recommend(
        self,
        collection: str,
        positive: Sequence[str | Mapping[str, Any]] = (),
        negative: Sequence[str | Mapping[str, Any]] = (),
        *,
        k: int = 10,
        strategy: str = "average_vector",
        **options: Any,
    ) -> RecommendResponse:
        """Examples: "doc-id" or {"id"|"text"|"vector": ..., "weight": 1.0}. Options: filter, exclude,
        exclude_examples, diversity, missing ("error" | "ignore"), with_text, with_metadata, with_vector."""
        body = {
            "positive": [e if isinstance(e, str) else dict(e) for e in positive],
            "negative": [e if isinstance(e, str) else dict(e) for e in negative],
            "k": k,
            "strategy": strategy,
            **options,
        }
        return self._model(RecommendResponse, "POST", f"/v1/collections/{_seg(collection)}/recommend", json_body=body)

    def neighbors_batch(
        self, collection: str, ids: Sequence[str], k: int = 10, filter: Mapping[str, Any] | None = None
    ) -> NeighborsBatchResponse:
        body: dict[str, Any] = {"ids": list(ids), "k": k}
        if filter is not None:
            body["filter"] = dict(filter)
        path = f"/v1/collections/{_seg(collection)}/neighbors/batch"
        return self._model(NeighborsBatchResponse, "POST", path, json_body=body)

    def record_events(self, collection: str, user: str, events: Sequence[Mapping[str, Any]]) -> EventsRecorded:
        """Events: {"id": doc id, "kind": "view|like|dislike|...", "weight"?: 1.0, "at"?: ISO time}."""
        body = {
            "events": [{k: (v.isoformat() if hasattr(v, "isoformat") else v) for k, v in e.items()} for e in events]
        }
        return self._model(
            EventsRecorded,
            "POST",
            f"/v1/collections/{_seg(collection)}/profiles/{_seg(user)}/events",
            json_body=body,
        )

    def get_profile(self, collection: str, user: str, offset: int = 0, limit: int = 100) -> ProfilePublic:
        return self._model(
            ProfilePublic,
            "GET",
            f"/v1/collections/{_seg(collection)}/profiles/{_seg(user)}",
            params={"offset": offset, "limit": limit},
        )

    def delete_profile(self, collection: str, user: str) -> ProfileDeleted:
        path = f"/v1/collections/{_seg(collection)}/profiles/{_seg(user)}"
        return self._model(ProfileDeleted, "DELETE", path)

    def profile_recommendations(
        self,
        collection: str,
        user: str,
        k: int = 10,
        *,
        filter: Mapping[str, Any] | None = None,
        **options: Any,
    ) -> RecommendResponse:
        """Options: diversity, half_life_days, strategy, with_text, with_metadata, with_vector."""
        params: dict[str, Any] = {"k": k}
        for name, value in options.items():
            params[name] = str(value).lower() if isinstance(value, bool) else value
        if filter is not None:
            params["filter"] = json.dumps(filter)
        return self._model(
            RecommendResponse,
            "GET",
            f"/v1/collections/{_seg(collection)}/profiles/{_seg(user)}/recommendations",
            params=params,
        )


def _seg(value: str) -> str:
    """One URL path segment (ids may hold '/', '?', '#')."""
    return quote(value, safe="")


def _error(response: httpx.Response) -> LatentHTTPError:
    try:
        error = response.json()["error"]
        return LatentHTTPError(response.status_code, error["code"], error["message"], error.get("details"))
    except (ValueError, KeyError, TypeError):
        return LatentHTTPError(response.status_code, "http_error", response.text[:500] or response.reason_phrase)
