"""`latent profiles event|get|delete|recommend`: a user's interaction history and recommendations from it."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict
from datetime import datetime
from typing import Annotated

import typer

from indexer.cli_common import CollectionOpt, JsonOpt, emit, exit_codes, settings_for
from indexer.cli_recommend import explain, parse_filter, recommendation_dict
from latent.limits import check_search
from latent.recommend.profiles import EventInput, delete_profile, get_profile, recommend_for_user, record_events
from latent.recommend.strategies import STRATEGIES
from latent.store.collection import Collection
from latent.store.store import Store

app = typer.Typer(help="User profiles: record events, show or forget a profile, recommend from it.")

UserArg = Annotated[str, typer.Argument(help="The user's id.")]


@contextmanager
def _collection(ctx: typer.Context, name: str) -> Iterator[Collection]:
    with exit_codes(), Store(settings_for(ctx)) as store:
        yield store.collection(name)


@app.command("event")
def event(
    ctx: typer.Context,
    user: UserArg,
    collection: CollectionOpt,
    ids: Annotated[list[str], typer.Option("--id", help="Document the user interacted with (repeatable).")],
    kind: Annotated[str, typer.Option(help="view | click | like | share | purchase | dislike.")] = "view",
    weight: Annotated[float, typer.Option(help="Multiplies the kind's weight (>= 0).")] = 1.0,
    at: Annotated[datetime | None, typer.Option(help="ISO time (default now; naive times are UTC).")] = None,
    as_json: JsonOpt = False,
) -> None:
    """Record one event per --id, all or none. Exit 1: an unknown document; 2: an unknown kind."""
    with _collection(ctx, collection) as coll:
        recorded = record_events(coll, user, [EventInput(id=i, kind=kind, weight=weight, at=at) for i in ids])
    data = {"recorded": len(recorded), "events": [asdict(e) for e in recorded]}
    emit(data, as_json, [[e.event_id, e.id, e.kind, e.weight, e.at.isoformat()] for e in recorded], _HEADERS)


_HEADERS = ["event", "document", "kind", "weight", "at"]


@app.command("get")
def get(
    ctx: typer.Context,
    user: UserArg,
    collection: CollectionOpt,
    offset: Annotated[int, typer.Option(help="Events to skip (newest first).", min=0)] = 0,
    limit: Annotated[int, typer.Option(help="Events to show.", min=1, max=10_000)] = 100,
    as_json: JsonOpt = False,
) -> None:
    """A user's events (newest first) and counts per kind. Exit 1: the user has no events."""
    with _collection(ctx, collection) as coll:
        profile = get_profile(coll, user, offset, limit)
    rows = [[e.event_id, e.id, e.kind, e.weight, e.at.isoformat()] for e in profile.events]
    emit(asdict(profile), as_json, rows, _HEADERS)
    if not as_json:
        typer.echo(f"{profile.count} events on {profile.documents} documents: {profile.counts}")


@app.command("delete")
def delete(ctx: typer.Context, user: UserArg, collection: CollectionOpt, as_json: JsonOpt = False) -> None:
    """Forget a user (every event). Exit 1: there was nothing to forget."""
    with _collection(ctx, collection) as coll:
        deleted = delete_profile(coll, user)
    if as_json:
        emit({"deleted": deleted}, True)
    else:
        typer.echo(f"deleted {deleted} events of {user!r}")


@app.command("recommend")
def recommend(
    ctx: typer.Context,
    user: UserArg,
    collection: CollectionOpt,
    k: Annotated[int, typer.Option("-k", help="Number of hits.")] = 10,
    strategy: Annotated[str, typer.Option(help=f"How examples combine: {' | '.join(STRATEGIES)}.")] = "average_vector",
    diversity: Annotated[float, typer.Option(help="0 = pure relevance … 1 = pure novelty (MMR).", min=0, max=1)] = 0.0,
    half_life_days: Annotated[float, typer.Option(help="An event's weight halves every this many days.")] = 30.0,
    filter: Annotated[str | None, typer.Option(help="Metadata pre-filter as JSON.")] = None,
    as_json: JsonOpt = False,
) -> None:
    """Documents for the user from their history (likes pull, dislikes push), never ones already seen."""
    with _collection(ctx, collection) as coll:
        check_search(settings_for(ctx), k)
        result = recommend_for_user(
            coll,
            user,
            k,
            strategy=strategy,
            filter=parse_filter(filter),
            diversity=diversity,
            half_life_days=half_life_days,
        )
    rows = [[h.rank, f"{h.score:.4f}", h.id, (h.title or "")[:40], explain(h.explanation)] for h in result.hits]
    emit(recommendation_dict(result), as_json, rows, ["rank", "score", "id", "title", "why"])
