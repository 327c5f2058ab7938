"""The encoder protocol every backend implements, and the tokenized-text record chunking uses."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol, runtime_checkable

import numpy as np


@dataclass(slots=True)
class Tokenized:
    """One text's tokens without special tokens; offsets are character spans into the text.

    Token strings are made on first use from `id_to_token` when not given: chunking needs only ids
    and offsets, and turning every id back into a string cost ~20% of chunking (bench/indexing.py).
    """

    ids: list[int]
    offsets: list[tuple[int, int]]
    words: list[str] | None = None
    id_to_token: Callable[[list[int]], list[str]] | None = None
    word_ids: list[int | None] | None = None  # which pre-tokenized word each token belongs to, if known

    def starts_word(self, i: int) -> bool:
        """Token i begins a word (so a window starting here tokenizes the same on its own)."""
        return self.word_ids is not None and (i == 0 or self.word_ids[i] != self.word_ids[i - 1])

    def ends_word(self, i: int) -> bool:
        return self.word_ids is not None and (i == len(self.ids) - 1 or self.word_ids[i + 1] != self.word_ids[i])

    @property
    def tokens(self) -> list[str]:
        if self.words is None:
            self.words = self.id_to_token(self.ids) if self.id_to_token else [str(i) for i in self.ids]
        return self.words

    @property
    def count(self) -> int:
        return len(self.ids)


@runtime_checkable
class Encoder(Protocol):
    """What the store, indexer and service need from a text encoder."""

    model_name: str
    backend: str
    dimension: int
    max_seq_length: int  # tokens per forward pass, special tokens included
    special_tokens: int  # how many of those the model adds itself ([CLS], [SEP])

    def tokenize(self, texts: list[str]) -> list[Tokenized]: ...

    def encode(self, texts: list[str], batch_size: int | None = None) -> np.ndarray: ...
