"""The encoder protocol every backend implements, and the tokenized-text record chunking uses."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol, runtime_checkable

import numpy as np


@dataclass(frozen=True, slots=True)
class Tokenized:
    """One text's tokens without special tokens; offsets are character spans into the text."""

    ids: list[int]
    tokens: list[str]
    offsets: list[tuple[int, int]]

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


def l2_normalise(vectors: np.ndarray) -> np.ndarray:
    """Unit-length rows (zero rows stay zero) as contiguous float32."""
    vectors = np.ascontiguousarray(vectors, dtype=np.float32)
    norms = np.linalg.norm(vectors, axis=1, keepdims=True)
    norms[norms == 0] = 1.0
    return vectors / norms
