"""User profiles of a collection: interaction events in SQL, and recommendations built from them.

Events name documents by external id, so they outlive re-indexing; a document deleted later is skipped
when the profile is used (it neither comes back as a hit nor breaks the profile) and is listed as missing.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import delete, func, insert, select

from latent.errors import DocumentNotFound, InvalidInput, NotFound, TooLarge
from latent.recommend.documents import DocumentIndex, row_ids
from latent.recommend.runs import Flags, Recommendation, run
from latent.recommend.strategies import DEFAULT_KIND_WEIGHTS, Event, profile_examples
from latent.store.collection import Collection
from latent.store.feature_models import ProfileEventRow

EVENT_KINDS = tuple(DEFAULT_KIND_WEIGHTS)
MAX_USER_CHARS = 256
MAX_EVENTS_PER_CALL = 10_000
# A profile is built from its most recent events; older ones have decayed to little at any half-life.
PROFILE_EVENTS = 10_000
EVENTS_PER_EXPLANATION = 5


@dataclass(slots=True)
class EventInput:
    """An interaction to record: document id, kind (view, like, dislike…), weight, time (default now)."""

    id: str
    kind: str
    weight: float = 1.0
    at: datetime | None = None


@dataclass(slots=True)
class ProfileEvent:
    event_id: int
    id: str  # the document
    kind: str
    weight: float
    at: datetime


@dataclass(slots=True)
class Profile:
    user: str
    events: list[ProfileEvent]  # newest first, one page
    count: int  # events in all
    counts: dict[str, int]  # events per kind
    documents: int  # distinct documents
    missing: list[str]  # documents of the profile deleted from the collection since


def record_events(
    collection: Collection, user: str, events: Sequence[EventInput], now: datetime | None = None
) -> list[ProfileEvent]:
    """Store events in one transaction: all or none. Unknown document ids raise DocumentNotFound."""
    _check_user(user)
    if not events:
        raise InvalidInput("no events given", code="empty_batch")
    if len(events) > MAX_EVENTS_PER_CALL:
        raise TooLarge(
            f"at most {MAX_EVENTS_PER_CALL} events per call",
            code="batch_too_large",
            details={"count": len(events), "max": MAX_EVENTS_PER_CALL},
        )
    moment = _aware(now or datetime.now(UTC))
    for event in events:
        _check_event(event)
    known = row_ids(collection, [e.id for e in events])
    unknown = list(dict.fromkeys(e.id for e in events if e.id not in known))
    if unknown:
        raise DocumentNotFound(unknown, collection.name)
    rows = [
        {
            "collection_id": collection.id,
            "user": user,
            "document": e.id,
            "kind": e.kind,
            "weight": float(e.weight),
            "at": _aware(e.at or moment),
        }
        for e in events
    ]
    with collection.sessions() as s, s.begin():
        ids = s.scalars(insert(ProfileEventRow).returning(ProfileEventRow.id, sort_by_parameter_order=True), rows).all()
    return [
        ProfileEvent(event_id=int(i), id=r["document"], kind=r["kind"], weight=r["weight"], at=r["at"])
        for i, r in zip(ids, rows, strict=True)
    ]


def get_profile(collection: Collection, user: str, offset: int = 0, limit: int = 100) -> Profile:
    """One page of a user's events (newest first) with counts; NotFound when the user has none."""
    _check_user(user)
    if offset < 0 or not 1 <= limit <= 10_000:
        raise InvalidInput(
            "offset must be >= 0 and limit between 1 and 10000",
            code="invalid_page",
            details={"offset": offset, "limit": limit},
        )
    where = (ProfileEventRow.collection_id == collection.id, ProfileEventRow.user == user)
    with collection.sessions() as s:
        counts = dict(
            s.execute(select(ProfileEventRow.kind, func.count()).where(*where).group_by(ProfileEventRow.kind)).all()
        )
        documents = s.scalars(select(ProfileEventRow.document).where(*where).distinct()).all()
        page = s.scalars(
            select(ProfileEventRow)
            .where(*where)
            .order_by(ProfileEventRow.at.desc(), ProfileEventRow.id.desc())
            .offset(offset)
            .limit(limit)
        ).all()
    if not counts:
        raise _no_profile(collection, user)
    existing = row_ids(collection, documents)
    return Profile(
        user=user,
        events=[_event(r) for r in page],
        count=int(sum(counts.values())),
        counts={k: int(v) for k, v in sorted(counts.items())},
        documents=len(documents),
        missing=sorted(d for d in documents if d not in existing),
    )


def delete_profile(collection: Collection, user: str) -> int:
    """Forget a user: every event goes. Returns how many; NotFound when there were none."""
    _check_user(user)
    with collection.sessions() as s, s.begin():
        deleted = s.execute(
            delete(ProfileEventRow).where(ProfileEventRow.collection_id == collection.id, ProfileEventRow.user == user)
        ).rowcount
    if not deleted:
        raise _no_profile(collection, user)
    return int(deleted)


def recommend_for_user(
    collection: Collection,
    user: str,
    k: int = 10,
    *,
    strategy: str = "average_vector",
    filter: dict[str, Any] | None = None,
    diversity: float = 0.0,
    half_life_days: float = 30.0,
    now: datetime | None = None,
    flags: Flags | None = None,
) -> Recommendation:
    """Documents for a user from their history, excluding every document they already interacted with.

    Events weigh by kind (`DEFAULT_KIND_WEIGHTS`: dislikes are negative) times their own weight, decayed
    by half every `half_life_days`; see `latent.recommend.events.profile_examples`. Each explanation
    entry names the document and its latest events. `missing` lists profile documents since deleted.
    """
    _check_user(user)
    moment = _aware(now or datetime.now(UTC))
    profile_examples([], moment, half_life_days)  # validates the half-life even for an empty profile
    with collection.sessions() as s:
        rows = s.scalars(
            select(ProfileEventRow)
            .where(ProfileEventRow.collection_id == collection.id, ProfileEventRow.user == user)
            .order_by(ProfileEventRow.at.desc(), ProfileEventRow.id.desc())
            .limit(PROFILE_EVENTS)
        ).all()
    if not rows:
        raise _no_profile(collection, user)
    events = [_event(r) for r in rows]
    documents = list(dict.fromkeys(e.id for e in events))
    seen = row_ids(collection, documents)
    index = DocumentIndex(collection, filter)
    vectors = index.document_vectors(seen)
    missing = [d for d in documents if d not in vectors]
    core = [
        Event(doc_key=e.id, vector=vectors[e.id], kind=e.kind, weight=e.weight, at=e.at)
        for e in events
        if e.id in vectors and e.kind in DEFAULT_KIND_WEIGHTS  # kinds dropped from the table: ignored
    ]
    positives, negatives = profile_examples(core, moment, half_life_days)
    if not positives and not negatives:  # nothing left: deleted documents, or likes cancelled by dislikes
        return Recommendation([], sorted(missing), strategy=strategy)
    by_document: dict[str, list[ProfileEvent]] = {}
    for e in events:  # newest first
        by_document.setdefault(e.id, []).append(e)

    def annotate(entry: dict[str, Any]) -> dict[str, Any]:
        entry["events"] = [
            {"event_id": e.event_id, "kind": e.kind, "weight": e.weight, "at": e.at}
            for e in by_document.get(entry["example"], [])[:EVENTS_PER_EXPLANATION]
        ]
        return entry

    result = run(index, positives, negatives, k, strategy, list(seen.values()), diversity, flags, annotate)
    result.missing = sorted(missing)
    return result


def _check_user(user: str) -> None:
    if not isinstance(user, str) or not user.strip() or len(user) > MAX_USER_CHARS:
        raise InvalidInput(
            f"a user id is a non-empty string of at most {MAX_USER_CHARS} characters",
            code="invalid_user",
            details={"user": str(user)[:64]},
        )


def _check_event(event: EventInput) -> None:
    if not isinstance(event.id, str) or not event.id:
        raise InvalidInput("every event needs a document id", code="invalid_event")
    if event.kind not in DEFAULT_KIND_WEIGHTS:
        raise InvalidInput(
            f"unknown event kind {event.kind!r}; known kinds: {', '.join(EVENT_KINDS)}",
            code="unknown_event_kind",
            details={"kind": str(event.kind), "choices": list(EVENT_KINDS)},
        )
    weight = event.weight
    if isinstance(weight, bool) or not isinstance(weight, int | float) or not (math.isfinite(weight) and weight >= 0):
        raise InvalidInput(
            f"event weight must be a finite number >= 0, got {weight!r}",
            code="invalid_event",
            details={"id": event.id, "weight": repr(weight)},
        )


def _aware(moment: datetime) -> datetime:
    """UTC-aware: a naive time a caller gives is taken as UTC."""
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def _event(row: ProfileEventRow) -> ProfileEvent:
    return ProfileEvent(event_id=int(row.id), id=row.document, kind=row.kind, weight=float(row.weight), at=row.at)


def _no_profile(collection: Collection, user: str) -> NotFound:
    return NotFound(
        f"user {user!r} has no profile in collection {collection.name!r}",
        code="profile_not_found",
        details={"user": user, "collection": collection.name},
    )
