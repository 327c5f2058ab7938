"""Alias shapes (set, public view, list envelope) and the reindex job's body."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, Field

from latent.aliases import AliasRecord
from service.schemas.common import Strict

NAME = r"^[A-Za-z0-9][A-Za-z0-9_.\-]{0,127}$"


class AliasUpdate(Strict):
    collection: str = Field(
        min_length=1,
        max_length=128,
        description="The collection the alias points at from now on.",
        examples=["papers-v2"],
    )


class AliasPublic(BaseModel):
    name: str
    collection: str = Field(description="The real collection's name.")
    created_at: datetime
    updated_at: datetime
    previous: str | None = Field(None, description="PUT only: the collection it pointed at before (null: new alias).")

    @classmethod
    def of(cls, record: AliasRecord) -> AliasPublic:
        return cls(
            name=record.name,
            collection=record.collection,
            created_at=record.created_at,
            updated_at=record.updated_at,
            previous=record.previous,
        )


class AliasesPublic(BaseModel):
    data: list[AliasPublic]
    count: int


class ReindexCreate(Strict):
    """What `latent reindex` takes: build `into` from this collection, gate it, switch `alias`."""

    into: str = Field(pattern=NAME, max_length=128, description="The collection to build (resumed if it exists).")
    model: str | None = Field(
        None, max_length=1024, description="Model of the new collection (default: the old one's)."
    )
    backend: str | None = Field(None, max_length=32, description="Encoder backend of the new collection.")
    index: str | None = Field(
        None, max_length=256, description="Index spec of the new collection (default: the old one's)."
    )
    gate: str | None = Field(
        None, max_length=4096, description="A BEIR folder on the server to compare both on (needs the admin scope)."
    )
    margin: float = Field(0.01, ge=0.0, le=1.0, description="Largest nDCG@10 drop the gate accepts.")
    alias: str | None = Field(None, pattern=NAME, max_length=128, description="Alias to switch to the new collection.")
    mode: Literal["dense", "sparse", "hybrid"] = Field("dense", description="Search mode the gate evaluates.")
    split: str = Field("test", pattern=r"^[A-Za-z0-9_.\-]{1,64}$", description="Qrels split file under qrels/.")
    batch_docs: int = Field(256, ge=1, le=10_000, description="Documents per committed page.")
