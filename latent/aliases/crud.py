"""Alias CRUD on the store: set (create or switch, atomically), get, list, delete.

Resolution itself is the store's (`Store.collection` reads an alias and its collection in one query);
this module only writes and reads alias rows. Names follow collection names' rules, and an alias never
shares its name with a collection (409 either way round).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import delete, select
from sqlalchemy.exc import IntegrityError

from latent.errors import CollectionNotFound, Conflict, InvalidInput, NotFound
from latent.store.alias_models import AliasRow, resolve_row
from latent.store.base import utcnow
from latent.store.models import CollectionRow
from latent.store.store import _NAME as NAME_PATTERN
from latent.store.store import Store


@dataclass(slots=True)
class AliasRecord:
    name: str
    collection: str  # the real collection's name
    created_at: datetime
    updated_at: datetime
    previous: str | None = None  # set_alias only: the collection it pointed at before (None: new alias)


def _not_found(name: str) -> NotFound:
    return NotFound(f"alias {name!r} does not exist", code="alias_not_found", details={"alias": name})


def _check_name(name: str) -> None:
    if not NAME_PATTERN.match(name or ""):
        raise InvalidInput(
            f"invalid alias name {name!r}: use letters, digits, '_', '-', '.', at most 128 characters",
            code="invalid_alias_name",
            details={"alias": name},
        )


def _taken(name: str) -> Conflict:
    return Conflict(
        f"{name!r} is a collection; an alias may not take its name",
        code="alias_name_taken",
        details={"alias": name, "collection": name},
    )


def check_alias_name(store: Store, name: str) -> None:
    """Fail now (400 or 409) when `name` could not become an alias; before a long build, say."""
    _check_name(name)
    with store.sessions() as s:
        if s.scalar(select(CollectionRow.id).where(CollectionRow.name == name)) is not None:
            raise _taken(name)


def set_alias(store: Store, name: str, collection: str) -> AliasRecord:
    """Point `name` at `collection` (itself possibly an alias: its current collection is used).

    One transaction: a search resolving the alias meanwhile sees the old collection or the new one.
    Raises 409 alias_name_taken when a collection has that name, 404 when the target does not exist.
    """
    _check_name(name)
    try:
        with store.sessions() as s, s.begin():
            if s.scalar(select(CollectionRow.id).where(CollectionRow.name == name)) is not None:
                raise _taken(name)
            target = resolve_row(s, collection)
            if target is None:
                raise CollectionNotFound(collection)
            row = s.get(AliasRow, name, with_for_update=True)
            previous = None
            if row is None:
                row = AliasRow(name=name, collection_id=target.id)
                s.add(row)
            else:
                previous = s.scalar(select(CollectionRow.name).where(CollectionRow.id == row.collection_id))
                row.collection_id, row.updated_at = target.id, utcnow()
            s.flush()
            return AliasRecord(name, target.name, row.created_at, row.updated_at, previous)
    except IntegrityError:  # two writers created the same alias at once, or the target was just dropped
        raise Conflict(
            f"alias {name!r} changed concurrently; try again", code="alias_conflict", details={"alias": name}
        ) from None


def _records(store: Store, name: str | None = None) -> list[AliasRecord]:
    stmt = select(AliasRow, CollectionRow.name).join(CollectionRow, CollectionRow.id == AliasRow.collection_id)
    if name is not None:
        stmt = stmt.where(AliasRow.name == name)
    with store.sessions() as s:
        rows = s.execute(stmt.order_by(AliasRow.name)).all()
    return [AliasRecord(a.name, target, a.created_at, a.updated_at) for a, target in rows]


def get_alias(store: Store, name: str) -> AliasRecord:
    found = _records(store, name)
    if not found:
        raise _not_found(name)
    return found[0]


def list_aliases(store: Store) -> list[AliasRecord]:
    return _records(store)


def delete_alias(store: Store, name: str) -> AliasRecord:
    """Remove the alias (its collection stays); returns what it pointed at."""
    record = get_alias(store, name)
    with store.sessions() as s, s.begin():
        gone = s.execute(delete(AliasRow).where(AliasRow.name == name)).rowcount
    if not gone:
        raise _not_found(name)
    return record
