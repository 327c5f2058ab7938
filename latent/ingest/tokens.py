"""What the model sees of a text: its tokens, and whether indexing would split it into chunks."""

from __future__ import annotations

from dataclasses import dataclass

from latent.embedder.base import Encoder
from latent.ingest.chunking import chunk_budget


@dataclass(frozen=True, slots=True)
class TokenReport:
    tokens: list[str]
    ids: list[int]
    count: int
    chunked: bool


def token_reports(encoder: Encoder, texts: list[str], chunk_tokens: int | None = None) -> tuple[int, list[TokenReport]]:
    """(tokens per chunk, one report per text); special tokens are not counted, as in chunking."""
    budget = chunk_budget(encoder, chunk_tokens)
    reports = [TokenReport(t.tokens, t.ids, t.count, t.count > budget) for t in encoder.tokenize(texts)]
    return budget, reports
