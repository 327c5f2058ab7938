"""A tiny deterministic encoder (hashed bag of words) for tests where the real model does not matter."""

from __future__ import annotations

import hashlib
import re
from functools import lru_cache

import numpy as np

from latent.embedder.base import Tokenized
from latent.vectors import unit_rows

_WORD = re.compile(r"\w+|[^\w\s]")


def is_fake_model(model: str) -> bool:
    """`fake` or `fake:<dimension>`: the test encoder, which has no backends."""
    return model == "fake" or model.startswith("fake:")


class FakeEncoder:
    """Vectors are sums of per-word pseudo-random directions: texts sharing words are similar."""

    backend = "fake"
    special_tokens = 2

    def __init__(self, dimension: int = 64, max_seq_length: int = 64, model_name: str = "fake"):
        self.model_name = model_name
        self.dimension = dimension
        self.max_seq_length = max_seq_length

    def tokenize(self, texts: list[str]) -> list[Tokenized]:
        out = []
        for text in texts:
            matches = list(_WORD.finditer(text))
            out.append(
                Tokenized(
                    ids=[self._word_id(m.group().lower()) for m in matches],
                    offsets=[(m.start(), m.end()) for m in matches],
                    words=[m.group().lower() for m in matches],
                )
            )
        return out

    def encode(self, texts: list[str], batch_size: int | None = None) -> np.ndarray:
        vectors = np.zeros((len(texts), self.dimension), dtype=np.float32)
        for row, tok in enumerate(self.tokenize(texts)):
            for token in tok.tokens[: self.max_seq_length - self.special_tokens]:
                if token.isalnum():
                    vectors[row] += self._direction(token)
        return unit_rows(vectors)

    def _word_id(self, word: str) -> int:
        return int.from_bytes(hashlib.blake2b(word.encode(), digest_size=4).digest(), "little") % 30000

    def _direction(self, word: str) -> np.ndarray:
        return _direction(word, self.dimension)


@lru_cache(maxsize=65536)
def _direction(word: str, dimension: int) -> np.ndarray:
    seed = int.from_bytes(hashlib.blake2b(word.encode(), digest_size=8).digest(), "little")
    return np.random.default_rng(seed).standard_normal(dimension).astype(np.float32)
