"""User profiles: record interaction events, read or forget a profile, recommend from its history."""

from __future__ import annotations

import time
from typing import Annotated

from fastapi import APIRouter, Query

from latent.limits import check_search
from latent.recommend.profiles import delete_profile, get_profile, recommend_for_user, record_events
from latent.recommend.runs import Flags
from service.auth import Read, Write
from service.deps import CollectionDep, FilterDep, SettingsDep
from service.routes import elapsed_ms
from service.schemas.recommend import (
    EventIn,
    EventPublic,
    EventsIn,
    EventsRecorded,
    ProfileDeleted,
    ProfilePublic,
    RecommendResponse,
    Strategy,
)

router = APIRouter(prefix="/v1/collections/{name}/profiles", tags=["profiles"])


@router.post("/{user}/events", name="record_events", dependencies=[Write], status_code=201)
def post_events(user: str, body: EventIn | EventsIn, collection: CollectionDep) -> EventsRecorded:
    """Record one event or {"events": [...]}, all or none: unknown document 404, unknown kind 400."""
    events = body.events if isinstance(body, EventsIn) else [body]
    recorded = record_events(collection, user, [e.to_input() for e in events])
    return EventsRecorded(recorded=len(recorded), events=[EventPublic.of(e) for e in recorded])


@router.get("/{user}", name="get", dependencies=[Read])
def get_user_profile(
    user: str,
    collection: CollectionDep,
    offset: Annotated[int, Query(ge=0, description="Events to skip (newest first).")] = 0,
    limit: Annotated[int, Query(ge=1, le=10_000, description="Events to return.")] = 100,
) -> ProfilePublic:
    """A user's events (newest first) and counts per kind; 404 profile_not_found when there are none."""
    return ProfilePublic.of(get_profile(collection, user, offset, limit))


@router.delete("/{user}", name="delete", dependencies=[Write])
def delete_user_profile(user: str, collection: CollectionDep) -> ProfileDeleted:
    """Forget a user (every event); 404 profile_not_found when there was nothing to forget."""
    return ProfileDeleted(deleted=delete_profile(collection, user))


@router.get("/{user}/recommendations", name="recommendations", dependencies=[Read], response_model_exclude_unset=True)
def user_recommendations(
    user: str,
    collection: CollectionDep,
    settings: SettingsDep,
    filter: FilterDep,
    k: Annotated[int, Query(description="Hits to return (1..max_k).")] = 10,
    diversity: Annotated[float, Query(ge=0.0, le=1.0, description="0 relevance … 1 novelty (MMR).")] = 0.0,
    half_life_days: Annotated[float, Query(gt=0, description="An event's weight halves every this many days.")] = 30.0,
    strategy: Annotated[Strategy, Query(description="How examples combine, as in /recommend.")] = "average_vector",
    with_text: bool = False,
    with_metadata: bool = False,
    with_vector: bool = False,
) -> RecommendResponse:
    """Documents for the user from their history (likes pull, dislikes push), never ones already seen.

    Each explanation names the profile documents and their latest events.
    """
    start = time.perf_counter()
    check_search(settings, k)
    flags = Flags(with_text, with_metadata, with_vector)
    result = recommend_for_user(
        collection,
        user,
        k,
        strategy=strategy,
        filter=filter,
        diversity=diversity,
        half_life_days=half_life_days,
        flags=flags,
    )
    return RecommendResponse.of(result, flags, elapsed_ms(start))
