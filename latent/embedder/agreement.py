"""Whether two encoder backends of one model give the same vectors, and a query encoder guarded by that check."""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeVar

import numpy as np

from latent.embedder.base import Encoder, Tokenized
from latent.errors import BackendMismatch, DimensionMismatch, InvalidInput

SAMPLE_TEXTS = 64
T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class AgreementReport:
    """Cosine between the vectors two backends give the same texts (1.0: identical directions)."""

    model: str
    reference: str  # the backend a collection was built with
    candidate: str  # the backend proposed for its queries
    sample: int  # texts compared
    mean_cosine: float
    min_cosine: float


def even_sample(items: list[T], n: int = SAMPLE_TEXTS) -> list[T]:
    """At most n items spread evenly over the list (first and last included): the same list every time."""
    if len(items) <= n:
        return list(items)
    picks = np.linspace(0, len(items) - 1, n).round().astype(int)
    return [items[i] for i in picks]


def backend_agreement(a: Encoder, b: Encoder, texts: list[str], sample: int = SAMPLE_TEXTS) -> AgreementReport:
    """Encode an even sample of `texts` with both encoders and compare each text's two vectors.

    Args:
        a: the reference encoder (the backend a collection's stored vectors come from).
        b: the candidate encoder (the backend that would encode queries).
        texts: the texts to sample from; blank ones are skipped.
        sample: at most this many texts are encoded.
    """
    if a.dimension != b.dimension:
        raise DimensionMismatch(
            f"backends {a.backend!r} and {b.backend!r} give vectors of different dimensions",
            details={"reference": a.dimension, "candidate": b.dimension},
        )
    chosen = even_sample([t for t in texts if t and t.strip()], sample)
    if not chosen:
        raise InvalidInput("comparing two backends needs at least one non-empty text", code="empty_sample")
    va = np.asarray(a.encode(chosen), dtype=np.float64)
    vb = np.asarray(b.encode(chosen), dtype=np.float64)
    na, nb = np.linalg.norm(va, axis=1), np.linalg.norm(vb, axis=1)
    both = (na > 0) & (nb > 0)
    cosines = np.where(both, (va * vb).sum(axis=1) / np.where(both, na * nb, 1.0), (na == 0) & (nb == 0))
    return AgreementReport(
        model=a.model_name,
        reference=a.backend,
        candidate=b.backend,
        sample=len(chosen),
        mean_cosine=round(float(cosines.mean()), 6),
        min_cosine=round(float(cosines.min()), 6),
    )


class AgreedEncoder:
    """Encodes query texts on another backend than a collection's, once a sample shows their vectors agree.

    The measurement runs on first use (loading a second model costs seconds, and a collection that is only
    written to never needs it); a disagreeing backend raises BackendMismatch on every encode instead of
    silently ranking with vectors from another space.
    """

    def __init__(
        self,
        reference: Encoder,
        backend: str,
        min_cosine: float,
        measure: Callable[[], tuple[Encoder, AgreementReport]],
        collection: str,
    ):
        self.reference = reference
        self.model_name = reference.model_name
        self.backend = backend
        self.dimension = reference.dimension
        self.max_seq_length = reference.max_seq_length
        self.special_tokens = reference.special_tokens
        self.min_cosine = min_cosine
        self.collection = collection
        self._measure = measure
        self._measured: tuple[Encoder, AgreementReport] | None = None
        self._lock = threading.Lock()

    def report(self) -> AgreementReport:
        """The agreement of the two backends, measured once (the store caches it per model and pair)."""
        return self._candidate()[1]

    @property
    def agrees(self) -> bool:
        return self.report().mean_cosine >= self.min_cosine

    def tokenize(self, texts: list[str]) -> list[Tokenized]:
        return self.reference.tokenize(texts)

    def encode(self, texts: list[str], batch_size: int | None = None) -> np.ndarray:
        encoder, report = self._candidate()
        if report.mean_cosine < self.min_cosine:
            raise BackendMismatch(
                f"collection {self.collection!r} was built with backend {report.reference!r}; query backend "
                f"{report.candidate!r} disagrees with it (mean cosine {report.mean_cosine:.4f} < "
                f"{self.min_cosine} on {report.sample} texts). Unset LATENT_QUERY_BACKEND or use "
                f"{report.reference!r} for queries.",
                details={
                    "collection": self.collection,
                    "model": report.model,
                    "backend": report.reference,
                    "query_backend": report.candidate,
                    "mean_cosine": report.mean_cosine,
                    "min_cosine": report.min_cosine,
                    "required": self.min_cosine,
                    "sample": report.sample,
                },
            )
        return encoder.encode(texts, batch_size)

    def _candidate(self) -> tuple[Encoder, AgreementReport]:
        with self._lock:
            if self._measured is None:
                self._measured = self._measure()
            return self._measured
