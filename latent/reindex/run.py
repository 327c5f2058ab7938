"""`reindex`: build the new collection, gate it on a BEIR folder, switch the alias only if it holds up."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from latent.aliases import check_alias_name, get_alias, set_alias
from latent.errors import NotFound
from latent.jobs import Progress, ShouldStop
from latent.reindex.build import BuildSummary, build
from latent.reindex.gate import GateResult, check_margin, check_mode, gate, load_gate
from latent.store.store import Store


@dataclass(slots=True)
class ReindexReport:
    build: BuildSummary
    gate: GateResult | None
    alias: str | None
    previous: str | None  # what the alias pointed at before (None: it did not exist, or no alias given)
    switched: bool
    decision: str  # switched | kept | built
    reason: str

    def as_dict(self) -> dict[str, Any]:
        out = asdict(self)
        if self.gate is not None:
            out["gate"]["delta"] = round(self.gate.delta, 6)
        return out


def reindex(
    store: Store,
    source: str,
    target: str,
    *,
    model: str | None = None,
    backend: str | None = None,
    index: str | None = None,
    gate_folder: Path | None = None,
    margin: float = 0.01,
    alias: str | None = None,
    split: str = "test",
    mode: str = "dense",
    batch_docs: int = 256,
    progress: Progress | None = None,
    should_stop: ShouldStop | None = None,
) -> ReindexReport:
    """Build `target` from `source`'s stored documents, then gate and switch `alias` (see the README).

    Everything that can be checked is checked before the build (alias name, gate folder, margin), so a
    typo fails in a second rather than after an hour of embedding.
    """
    check_margin(margin)
    check_mode(mode)
    if alias is not None:
        check_alias_name(store, alias)
    beir = load_gate(gate_folder, split) if gate_folder is not None else None
    current = store.collection(source)
    summary = build(
        store,
        current,
        target,
        model=model,
        backend=backend,
        index=index,
        batch_docs=batch_docs,
        progress=progress,
        should_stop=should_stop,
    )
    candidate = store.collection(target)
    result = None
    if beir is not None:
        if progress is not None:
            progress(1.0, f"evaluating {current.name} and {candidate.name} on {len(beir.queries)} queries")
        result = gate(current, candidate, beir, margin, folder=str(gate_folder), split=split, mode=mode)
    previous = _target_of(store, alias)
    if result is not None and not result.passed:
        where = f"alias {alias!r} still points at {previous!r}" if alias else "no alias to switch"
        return ReindexReport(summary, result, alias, previous, False, "kept", f"{result.reason}; {where}")
    if alias is None:
        why = result.reason if result is not None else "built without a gate"
        return ReindexReport(summary, result, None, None, False, "built", f"{why}; no --alias given, nothing switched")
    set_alias(store, alias, candidate.name)
    why = result.reason if result is not None else "no gate given: switched after the build"
    return ReindexReport(summary, result, alias, previous, True, "switched", f"{why}; {alias!r} -> {candidate.name!r}")


def _target_of(store: Store, alias: str | None) -> str | None:
    if alias is None:
        return None
    try:
        return get_alias(store, alias).collection
    except NotFound:
        return None
