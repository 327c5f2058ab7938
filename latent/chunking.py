"""Token-aware chunking: long documents become overlapping windows that each fit the model."""

from __future__ import annotations

from dataclasses import dataclass

from latent.embedder.base import Encoder, Tokenized


@dataclass(frozen=True, slots=True)
class Chunk:
    """A window of a document: `text` is what gets embedded; the span points into the document's text."""

    ordinal: int
    text: str
    char_start: int
    char_end: int
    token_count: int


def embedding_text(title: str, body: str) -> str:
    return f"{title} {body}" if title and body else (title or body)


def chunk_budget(encoder: Encoder, chunk_tokens: int | None) -> int:
    """Tokens available per window: the model's limit minus its special tokens, or a smaller setting."""
    limit = encoder.max_seq_length - encoder.special_tokens
    return min(chunk_tokens, limit) if chunk_tokens else limit


def chunk_document(
    title: str, text: str, title_tokens: Tokenized, text_tokens: Tokenized, budget: int, overlap: int
) -> list[Chunk]:
    """Windows of `text`, each prefixed by the title (context for every chunk); nothing is dropped."""
    title_len = min(title_tokens.count, budget // 2)  # a huge title may not starve the body
    if title_len < title_tokens.count:
        title = title[: title_tokens.offsets[title_len - 1][1]] if title_len else ""
    window = max(1, budget - title_len)
    n = text_tokens.count
    if n <= window:
        return [Chunk(0, embedding_text(title, text), 0, len(text), title_len + n)]
    step = max(1, window - min(overlap, window - 1))
    chunks: list[Chunk] = []
    start = 0
    while True:
        end = min(start + window, n)
        c0, c1 = text_tokens.offsets[start][0], text_tokens.offsets[end - 1][1]
        chunks.append(Chunk(len(chunks), embedding_text(title, text[c0:c1]), c0, c1, title_len + end - start))
        if end == n:
            return chunks
        start += step
