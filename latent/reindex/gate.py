"""The quality gate: score two collections' search on one BEIR folder's queries and compare nDCG@10.

The folder's corpus is not indexed again: both collections already hold it (the new one was built from
the old one's documents), so only their searches are evaluated, with `latent.evaluation`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from latent.errors import InvalidInput
from latent.evaluation import BeirFolder, load_beir, run_queries, score_run
from latent.search import MODES, SearchOptions, search_many
from latent.store.collection import Collection

METRIC = "ndcg@10"
# Equal scores computed in two orders may differ in the last bits; that is not a drop.
_TOLERANCE = 1e-9


@dataclass(slots=True)
class GateResult:
    folder: str
    split: str
    mode: str
    queries: int
    margin: float
    current: float  # nDCG@10 of the collection in use (the source)
    candidate: float  # nDCG@10 of the new collection
    passed: bool
    reason: str
    metric: str = METRIC
    current_scores: dict[str, float] = field(default_factory=dict)  # every metric `score_run` gives
    candidate_scores: dict[str, float] = field(default_factory=dict)
    search_seconds: dict[str, float] = field(default_factory=dict)

    @property
    def delta(self) -> float:
        return self.candidate - self.current


def check_margin(margin: float) -> float:
    if not 0.0 <= margin <= 1.0:
        raise InvalidInput("margin must be between 0 and 1 (nDCG@10 points)", code="invalid_margin")
    return float(margin)


def check_mode(mode: str) -> str:
    if mode not in MODES:
        raise InvalidInput(f"mode must be one of {', '.join(MODES)}", code="invalid_mode", details={"mode": mode})
    return mode


def load_gate(folder: Path, split: str = "test") -> BeirFolder:
    """The BEIR folder, checked before any building starts; it needs queries with judgements."""
    beir = load_beir(Path(folder), split)
    if not beir.queries:
        raise InvalidInput(
            f"{folder}: no query of queries.jsonl has judgements in qrels/{split}.tsv", code="invalid_beir_folder"
        )
    return beir


def score(collection: Collection, beir: BeirFolder, mode: str = "dense") -> tuple[dict[str, float], float]:
    """The collection's retrieval metrics on the folder's queries (top 100 per query) and the seconds."""
    options = SearchOptions(k=100, mode=mode)

    def batch(queries: list[str]) -> list[list[str]]:
        return [[h.id for h in hits] for hits in search_many(collection, queries, options=options)]

    run, seconds = run_queries(beir.queries, batch)
    return score_run(run, beir.qrels), seconds


def gate(
    current: Collection,
    candidate: Collection,
    beir: BeirFolder,
    margin: float,
    *,
    folder: str = "",
    split: str = "test",
    mode: str = "dense",
) -> GateResult:
    """Pass when the candidate's nDCG@10 is at least the current one's minus `margin`."""
    margin = check_margin(margin)
    before, before_s = score(current, beir, mode)
    after, after_s = score(candidate, beir, mode)
    old, new = before[METRIC], after[METRIC]
    passed = new >= old - margin - _TOLERANCE
    if passed:
        reason = f"{METRIC} {new:.4f} vs {old:.4f} ({new - old:+.4f}): within the margin of {margin:g}"
    else:
        reason = f"{METRIC} dropped from {old:.4f} to {new:.4f} ({new - old:+.4f}), more than the margin of {margin:g}"
    return GateResult(
        folder=folder,
        split=split,
        mode=mode,
        queries=len(beir.queries),
        margin=margin,
        current=round(old, 6),
        candidate=round(new, 6),
        passed=passed,
        reason=reason,
        current_scores={k: round(v, 6) for k, v in before.items()},
        candidate_scores={k: round(v, 6) for k, v in after.items()},
        search_seconds={current.name: round(before_s, 3), candidate.name: round(after_s, 3)},
    )
