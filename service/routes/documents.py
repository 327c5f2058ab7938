"""Documents: batch upsert (hash-skip, chunk replacement), fetch, list, delete by id or filter."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from latent.errors import InvalidInput
from latent.ingest.write import after_write
from latent.limits import check_documents
from service.auth import Read, Write
from service.deps import CollectionDep, FilterDep, SettingsDep
from service.schemas.common import Deleted
from service.schemas.documents import (
    DocumentPublic,
    DocumentsDelete,
    DocumentsPublic,
    DocumentsUpsert,
    UpsertPublic,
)

router = APIRouter(prefix="/v1/collections/{name}/documents", tags=["documents"])


@router.put("", name="upsert", dependencies=[Write])
def upsert_documents(body: DocumentsUpsert, collection: CollectionDep, settings: SettingsDep) -> UpsertPublic:
    """Insert or replace documents; unchanged content is skipped, changed content re-embedded atomically.

    New documents are on the collection's newest map when this returns.
    """
    check_documents(settings, len(body.documents))
    given = [d.id for d in body.documents if d.vector is not None]
    if given and collection.has_encoder:
        # Its model makes the vectors; a foreign one would not be comparable with them (same-model
        # re-imports go through the core's precomputed chunks, not this route).
        raise InvalidInput(
            f"collection {collection.name!r} embeds documents with its model ({collection.model}); "
            "leave out `vector`, or create a collection without a model to store your own vectors",
            code="vector_not_accepted",
            details={"ids": given[:10], "collection": collection.name},
        )
    result = collection.upsert([d.to_input() for d in body.documents])
    if result.upserted:
        after_write(collection)
    return UpsertPublic(upserted=result.upserted, unchanged=result.unchanged, metadata_updated=result.metadata_updated)


@router.get("", name="list", dependencies=[Read])
def list_documents(
    collection: CollectionDep,
    filter: FilterDep,
    offset: Annotated[int, Query(ge=0)] = 0,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> DocumentsPublic:
    records, total = collection.list_documents(offset=offset, limit=limit, filter=filter)
    return DocumentsPublic(data=[DocumentPublic.of(r) for r in records], count=total)


@router.post("/delete", name="delete_many", dependencies=[Write])
def delete_documents(body: DocumentsDelete, collection: CollectionDep) -> Deleted:
    """Delete by ids (missing ones ignored) or by filter."""
    if body.ids is not None:
        return Deleted(deleted=collection.delete(body.ids))
    return Deleted(deleted=collection.delete_where(body.filter or {}))


@router.get("/{doc_id:path}", name="get", dependencies=[Read])
def get_document(doc_id: str, collection: CollectionDep) -> DocumentPublic:
    return DocumentPublic.of(collection.get(doc_id))


@router.delete("/{doc_id:path}", name="delete", dependencies=[Write])
def delete_document(doc_id: str, collection: CollectionDep) -> Deleted:
    """404 document_not_found when the id does not exist."""
    return Deleted(deleted=collection.delete([doc_id], missing_ok=False))
