"""Endpoints of health, collections and documents (each one `Call`, shared by the sync and async clients)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any, Literal

from latent_client._endpoint import as_json, as_text, body, nothing, operation, query, seg, typed, under
from latent_client._transport import Call
from latent_client.models import (
    Alias,
    AliasList,
    Collection,
    CollectionList,
    Deleted,
    Document,
    DocumentList,
    Job,
    StoredDocument,
    Upserted,
)

DocumentLike = Document | Mapping[str, Any]


class DataEndpoints:
    """Health, collections, aliases, documents."""

    # ----- health ---------------------------------------------------------------------------------------------
    @operation("health-healthz")
    def health() -> Call[dict[str, Any]]:
        """Liveness: `{"status": "ok"}` while the process answers."""
        return Call("GET", "/healthz", as_json)

    @operation("health-readyz")
    def ready() -> Call[dict[str, Any]]:
        """Readiness: the store answers and the model is loaded (a 503 is retried, then raised)."""
        return Call("GET", "/readyz", as_json)

    @operation("health-metrics")
    def metrics() -> Call[str]:
        """Prometheus text."""
        return Call("GET", "/metrics", as_text)

    # ----- collections ----------------------------------------------------------------------------------------
    @operation("collections-list")
    def list_collections() -> Call[CollectionList]:
        return Call("GET", "/v1/collections", typed(CollectionList))

    @operation("collections-create")
    def create_collection(
        name: str,
        model: str | None = None,
        index: str | None = None,
        *,
        dimension: int | None = None,
        metric: Literal["cosine", "dot", "l2"] | None = None,
    ) -> Call[Collection]:
        """Create an empty collection (409 collection_exists when taken); `index` e.g. "flat", "hnsw", "auto".

        `dimension` without `model`: a collection without an encoder, whose documents bring their `vector`.
        """
        payload = body(name=name, model=model, index=index, dimension=dimension, metric=metric)
        return Call("POST", "/v1/collections", typed(Collection), json=payload, idempotent=False)

    @operation("collections-get")
    def get_collection(name: str) -> Call[Collection]:
        return Call("GET", under(name), typed(Collection))

    @operation("collections-delete")
    def delete_collection(name: str) -> Call[None]:
        """Drop the collection with its documents and index (admin scope)."""
        return Call("DELETE", under(name), nothing)

    # ----- aliases --------------------------------------------------------------------------------------------
    @operation("aliases-list")
    def list_aliases() -> Call[AliasList]:
        return Call("GET", "/v1/aliases", typed(AliasList))

    @operation("aliases-get")
    def get_alias(alias: str) -> Call[Alias]:
        return Call("GET", f"/v1/aliases/{seg(alias)}", typed(Alias))

    @operation("aliases-set")
    def set_alias(alias: str, collection: str) -> Call[Alias]:
        """Create the alias or switch it to `collection`, atomically; `previous` names the old target."""
        return Call("PUT", f"/v1/aliases/{seg(alias)}", typed(Alias), json={"collection": collection})

    @operation("aliases-delete")
    def delete_alias(alias: str) -> Call[None]:
        """Delete the alias (its collection stays)."""
        return Call("DELETE", f"/v1/aliases/{seg(alias)}", nothing)

    @operation("aliases-reindex")
    def reindex(
        collection: str,
        into: str,
        *,
        model: str | None = None,
        backend: str | None = None,
        index: str | None = None,
        gate: str | None = None,
        margin: float | None = None,
        alias: str | None = None,
        mode: Literal["dense", "sparse", "hybrid"] | None = None,
        split: str | None = None,
        batch_docs: int | None = None,
    ) -> Call[Job]:
        """Start a reindex job: build `into` from `collection`, gate it on a BEIR folder, switch `alias`."""
        payload = body(
            into=into,
            model=model,
            backend=backend,
            index=index,
            gate=gate,
            margin=margin,
            alias=alias,
            mode=mode,
            split=split,
            batch_docs=batch_docs,
        )
        return Call("POST", under(collection, "/reindex"), typed(Job), json=payload, idempotent=False)

    # ----- documents ------------------------------------------------------------------------------------------
    @operation("documents-upsert")
    def upsert(collection: str, documents: Iterable[DocumentLike]) -> Call[Upserted]:
        """Insert or replace documents; unchanged content is skipped, changed content re-embedded."""
        docs = [Document.model_validate(d).model_dump(mode="json", exclude_none=True) for d in documents]
        path = under(collection, "/documents")
        return Call("PUT", path, typed(Upserted), json={"documents": docs})

    @operation("documents-get")
    def get_document(collection: str, doc_id: str) -> Call[StoredDocument]:
        return Call("GET", under(collection, f"/documents/{seg(doc_id)}"), typed(StoredDocument))

    @operation("documents-list")
    def list_documents(
        collection: str, offset: int = 0, limit: int = 100, filter: Mapping[str, Any] | None = None
    ) -> Call[DocumentList]:
        """One page of documents (and how many match the filter in all)."""
        params = query(offset=offset, limit=limit, filter=filter)
        return Call("GET", under(collection, "/documents"), typed(DocumentList), params=params)

    @operation("documents-delete")
    def delete_document(collection: str, doc_id: str) -> Call[Deleted]:
        """Delete one document (404 document_not_found when it does not exist)."""
        return Call("DELETE", under(collection, f"/documents/{seg(doc_id)}"), typed(Deleted))

    @operation("documents-delete_many")
    def delete_documents(
        collection: str, ids: Sequence[str] | None = None, filter: Mapping[str, Any] | None = None
    ) -> Call[Deleted]:
        """Delete by ids (missing ones ignored) or every document a filter keeps: give exactly one."""
        payload = body(ids=list(ids) if ids is not None else None, filter=filter)
        return Call("POST", under(collection, "/documents/delete"), typed(Deleted), json=payload)
