"""User profiles for recommendations: interaction events -> time-decayed positive and negative examples."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime

import numpy as np

from latent.errors import InvalidInput
from latent.recommend.scoring import Example

# Stronger signals weigh more; a negative weight turns the document into a negative example.
DEFAULT_KIND_WEIGHTS: dict[str, float] = {
    "view": 1.0,
    "click": 1.5,
    "like": 2.0,
    "share": 2.0,
    "purchase": 3.0,
    "dislike": -1.0,
}


@dataclass(slots=True)
class Event:
    """One interaction of a user with a document (`doc_key` names it; `vector` is its unit vector)."""

    doc_key: str
    vector: np.ndarray
    kind: str
    weight: float = 1.0
    at: datetime = field(kw_only=True)


def profile_examples(
    events: Sequence[Event],
    now: datetime,
    half_life_days: float = 30.0,
    kind_weights: Mapping[str, float] | None = None,
) -> tuple[list[Example], list[Example]]:
    """Positive and negative examples from events, heaviest first.

    Each event counts kind_weight * event.weight * 0.5 ** (age_days / half_life_days) (events dated
    after `now` count as new). Events on one document are summed, so a like and a dislike cancel; the
    net sign decides the side, its size the example's weight, and `Example.kinds` keeps each kind's
    signed share so explanations can say "liked and viewed".

    Args:
        kind_weights: overrides merged over `DEFAULT_KIND_WEIGHTS`.
    """
    if not (isinstance(half_life_days, int | float) and math.isfinite(half_life_days) and half_life_days > 0):
        raise InvalidInput(
            f"half_life_days must be a positive number, got {half_life_days!r}",
            details={"half_life_days": repr(half_life_days)},
        )
    weights = {**DEFAULT_KIND_WEIGHTS, **(kind_weights or {})}
    totals: dict[str, float] = {}
    kinds: dict[str, dict[str, float]] = {}
    latest: dict[str, Event] = {}
    for event in events:
        if event.kind not in weights:
            raise InvalidInput(
                f"unknown event kind {event.kind!r}; known kinds: {', '.join(sorted(weights))}",
                details={"kind": event.kind, "choices": sorted(weights)},
            )
        if not (math.isfinite(event.weight) and event.weight >= 0):
            raise InvalidInput(
                f"event weight must be finite and >= 0, got {event.weight!r}",
                details={"doc": event.doc_key, "weight": repr(event.weight)},
            )
        try:
            age_days = max((now - event.at).total_seconds() / 86400.0, 0.0)
        except TypeError as exc:  # naive vs aware datetimes
            raise InvalidInput(
                "event times and now must both be timezone-aware or both naive",
                details={"doc": event.doc_key},
            ) from exc
        signed = weights[event.kind] * event.weight * 0.5 ** (age_days / half_life_days)
        totals[event.doc_key] = totals.get(event.doc_key, 0.0) + signed
        shares = kinds.setdefault(event.doc_key, {})
        shares[event.kind] = shares.get(event.kind, 0.0) + signed
        if event.doc_key not in latest or event.at >= latest[event.doc_key].at:
            latest[event.doc_key] = event

    positives: list[Example] = []
    negatives: list[Example] = []
    for key, total in totals.items():
        if abs(total) < 1e-12:  # cancelled out, or fully decayed to nothing
            continue
        example = Example(key=key, vector=latest[key].vector, weight=abs(total), kinds=kinds[key])
        (positives if total > 0 else negatives).append(example)
    positives.sort(key=lambda e: (-e.weight, e.key))
    negatives.sort(key=lambda e: (-e.weight, e.key))
    return positives, negatives
