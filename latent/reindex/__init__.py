"""Re-embedding without downtime: build a collection from another's documents, gate it, switch an alias."""

from latent.reindex.build import BuildSummary, build
from latent.reindex.gate import GateResult, gate, load_gate
from latent.reindex.run import ReindexReport, reindex

__all__ = ["BuildSummary", "GateResult", "ReindexReport", "build", "gate", "load_gate", "reindex"]
