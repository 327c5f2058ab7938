"""A wrapper that stands wherever the encoder it wraps stood (the serving layers are two of them)."""

from __future__ import annotations

from typing import Any

from latent.embedder.base import Encoder, Tokenized


class EncoderWrapper:
    """The protocol's attributes are the inner encoder's; anything else (model, encode_ids, serialise,
    report) is looked up on it too. Subclasses override `encode`."""

    def __init__(self, inner: Encoder) -> None:
        self.inner = inner

    @property
    def model_name(self) -> str:
        return self.inner.model_name

    @property
    def backend(self) -> str:
        return self.inner.backend

    @property
    def dimension(self) -> int:
        return self.inner.dimension

    @property
    def max_seq_length(self) -> int:
        return self.inner.max_seq_length

    @property
    def special_tokens(self) -> int:
        return self.inner.special_tokens

    def __getattr__(self, name: str) -> Any:
        if name.startswith("__") or name == "inner":  # copy/pickle probe before __init__ ran
            raise AttributeError(name)
        return getattr(self.inner, name)

    def tokenize(self, texts: list[str]) -> list[Tokenized]:
        return self.inner.tokenize(texts)
