"""The aliases table and the lookups the store needs: resolve a name, list the aliases of a collection.

An alias row points at a collection by id, so switching it is one UPDATE: a reader resolving the name
sees the old row or the new one, never a mix.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, String, bindparam, or_, select
from sqlalchemy.orm import Mapped, Session, mapped_column

from latent.store.base import Base, UTCDateTime, utcnow
from latent.store.models import CollectionRow


class AliasRow(Base):
    """A second name for a collection; an alias never shares its name with a collection."""

    __tablename__ = "aliases"

    name: Mapped[str] = mapped_column(String(128), primary_key=True)
    collection_id: Mapped[int] = mapped_column(ForeignKey("collections.id"), index=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


_TARGET = select(AliasRow.collection_id).where(AliasRow.name == bindparam("name")).scalar_subquery()

# The collection a name means (its own, or the one the alias of that name points at), in one round trip.
RESOLVE = select(CollectionRow.name, CollectionRow.id, CollectionRow.created_at).where(
    or_(CollectionRow.name == bindparam("name"), CollectionRow.id == _TARGET)
)


def resolve_row(session: Session, name: str) -> CollectionRow | None:
    """The collection row `name` means: a collection of that name, else the target of that alias."""
    rows = session.scalars(
        select(CollectionRow).where(or_(CollectionRow.name == name, CollectionRow.id == _TARGET)),
        {"name": name},
    ).all()
    exact = [r for r in rows if r.name == name]
    return (exact or list(rows) or [None])[0]


def aliases_of(session: Session, collection_id: int) -> list[str]:
    """The names of the aliases that point at a collection, sorted."""
    return list(
        session.scalars(
            select(AliasRow.name).where(AliasRow.collection_id == collection_id).order_by(AliasRow.name)
        ).all()
    )


def is_alias(session: Session, name: str) -> bool:
    return session.get(AliasRow, name) is not None
