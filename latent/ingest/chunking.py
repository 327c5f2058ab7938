"""Token-aware chunking: long documents become overlapping windows that each fit the model."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from latent.embedder.base import Encoder, Tokenized


@dataclass(frozen=True, slots=True)
class Chunk:
    """A window of a document: `text` is what gets embedded; the span points into the document's text."""

    ordinal: int
    text: str
    char_start: int
    char_end: int
    token_count: int
    # The ids `text` tokenizes to (no special tokens), when the window starts and ends on word edges so
    # they are known without tokenizing it again; None otherwise (the encoder then tokenizes `text`).
    token_ids: list[int] | None = None


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
    title_ids: list[int] | None = title_tokens.ids[:title_len]
    if title_len < title_tokens.count:
        title = title[: title_tokens.offsets[title_len - 1][1]] if title_len else ""
        if title_len and not title_tokens.ends_word(title_len - 1):
            title_ids = None
    window = max(1, budget - title_len)
    n = text_tokens.count

    def ids_of(start: int, end: int) -> list[int] | None:
        """title ids + text ids[start:end], if that is what tokenizing the chunk's text gives."""
        if title_ids is None or text_tokens.word_ids is None or (title_len and title_tokens.word_ids is None):
            return None
        if n and not (text_tokens.starts_word(start) and text_tokens.ends_word(end - 1)):
            return None
        return title_ids + text_tokens.ids[start:end]

    if n <= window:
        return [Chunk(0, embedding_text(title, text), 0, len(text), title_len + n, ids_of(0, n))]
    step = max(1, window - min(overlap, window - 1))
    chunks: list[Chunk] = []
    start = 0
    while True:
        end = min(start + window, n)
        c0, c1 = text_tokens.offsets[start][0], text_tokens.offsets[end - 1][1]
        body = text[c0:c1]
        chunks.append(
            Chunk(len(chunks), embedding_text(title, body), c0, c1, title_len + end - start, ids_of(start, end))
        )
        if end == n:
            return chunks
        start += step


def encode_chunks(encoder: Encoder, chunks: list[Chunk]) -> np.ndarray:
    """Vectors for chunks: from their token ids where the encoder takes ids (no second tokenization of
    text the chunker has just tokenized; bench/indexing.py), from their text otherwise."""
    encode_ids = getattr(encoder, "encode_ids", None)
    by_ids = [i for i, c in enumerate(chunks) if c.token_ids is not None] if encode_ids else []
    if not by_ids:
        return encoder.encode([c.text for c in chunks])
    by_text = sorted(set(range(len(chunks))) - set(by_ids))
    out = np.empty((len(chunks), encoder.dimension), dtype=np.float32)
    out[by_ids] = encode_ids([chunks[i].token_ids for i in by_ids])
    if by_text:
        out[by_text] = encoder.encode([chunks[i].text for i in by_text])
    return out
