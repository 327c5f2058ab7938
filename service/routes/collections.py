"""Collections: list, create, inspect, drop."""

from __future__ import annotations

from fastapi import APIRouter, Response, status

from service.auth import Admin, Read, Write
from service.deps import CollectionDep, StoreDep
from service.schemas.collections import CollectionCreate, CollectionPublic, CollectionsPublic

router = APIRouter(prefix="/v1/collections", tags=["collections"])


@router.get("", name="list", dependencies=[Read])
def list_collections(store: StoreDep) -> CollectionsPublic:
    infos = store.list_collections()
    return CollectionsPublic(data=[CollectionPublic.of(i) for i in infos], count=len(infos))


@router.post("", name="create", status_code=status.HTTP_201_CREATED, dependencies=[Write])
def create_collection(body: CollectionCreate, store: StoreDep) -> CollectionPublic:
    """Create an empty collection; 409 collection_exists when the name is taken.

    `{"name": "own", "dimension": 768, "metric": "dot"}` (no model) makes a collection without an encoder:
    documents carry `vector`, searches send `vector` (text-only search answers 400 no_encoder).
    """
    collection = store.create_collection(
        body.name, model=body.model, index=body.index, dimension=body.dimension, metric=body.metric
    )
    return CollectionPublic.of(collection.info())


@router.get("/{name}", name="get", dependencies=[Read])
def get_collection(collection: CollectionDep) -> CollectionPublic:
    return CollectionPublic.of(collection.info())


@router.delete("/{name}", name="delete", status_code=status.HTTP_204_NO_CONTENT, dependencies=[Admin])
def delete_collection(name: str, store: StoreDep) -> Response:
    """Drop the collection, its documents and its index files (admin scope: it cannot be undone)."""
    store.drop_collection(name)
    return Response(status_code=status.HTTP_204_NO_CONTENT)
