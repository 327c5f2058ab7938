"""Queries on another encoder backend than the collection's: only when a sample shows their vectors agree."""

from __future__ import annotations

import numpy as np
import pytest
from helpers.corpora import topical

from latent.config import get_settings
from latent.embedder.agreement import AgreedEncoder, backend_agreement, even_sample
from latent.embedder.fake import FakeEncoder
from latent.embedder.serving import unwrap
from latent.errors import BackendMismatch, DimensionMismatch, InvalidInput
from latent.recommend.runs import recommend_documents
from latent.search import SearchOptions, neighbors, search
from latent.store.store import Store


class OtherSpaceEncoder(FakeEncoder):
    """The fake encoder with other per-word directions: a 'backend' whose vectors live in another space."""

    def __init__(self, backend: str = "other"):
        super().__init__()
        self.backend = backend
        self.calls = 0

    def encode(self, texts: list[str], batch_size: int | None = None) -> np.ndarray:
        self.calls += 1
        return super().encode(texts, batch_size)

    def _direction(self, word: str) -> np.ndarray:
        return super()._direction(f"{word}#other")


@pytest.fixture
def other_space(monkeypatch: pytest.MonkeyPatch) -> OtherSpaceEncoder:
    """The store's 'openvino-int8' encoder for the fake model disagrees with its torch one."""
    other = OtherSpaceEncoder("openvino-int8")
    original = Store.encoder

    def encoder(self: Store, model: str | None = None, backend: str | None = None):
        return other if backend == "openvino-int8" else original(self, model, backend)

    monkeypatch.setattr(Store, "encoder", encoder)
    return other


TEXTS = [d.title + " " + d.text for d in topical(100)]


# ----- backend_agreement ---------------------------------------------------------------------------
def test_same_vectors_agree_exactly() -> None:
    report = backend_agreement(FakeEncoder(), FakeEncoder(), TEXTS[:10])
    assert report.mean_cosine == pytest.approx(1.0) and report.min_cosine == pytest.approx(1.0)
    assert (report.model, report.reference, report.candidate, report.sample) == ("fake", "fake", "fake", 10)


def test_another_space_disagrees_on_a_deterministic_sample() -> None:
    first = backend_agreement(FakeEncoder(), OtherSpaceEncoder(), TEXTS)
    assert first.sample == 64 and first.candidate == "other"
    assert first.mean_cosine < 0.5 and first.min_cosine <= first.mean_cosine
    assert backend_agreement(FakeEncoder(), OtherSpaceEncoder(), TEXTS) == first


def test_even_sample_spans_the_list() -> None:
    picked = even_sample(list(range(1000)), 64)
    assert len(picked) == len(set(picked)) == 64 and picked[0] == 0 and picked[-1] == 999
    assert picked == sorted(picked) and even_sample([1, 2, 3], 64) == [1, 2, 3]


def test_refuses_different_dimensions_and_blank_samples() -> None:
    with pytest.raises(DimensionMismatch):
        backend_agreement(FakeEncoder(dimension=32), FakeEncoder(dimension=64), TEXTS)
    with pytest.raises(InvalidInput) as exc:
        backend_agreement(FakeEncoder(), FakeEncoder(), ["", "   "])
    assert exc.value.code == "empty_sample"


def test_agreed_encoder_raises_with_both_backends_and_cosines() -> None:
    reference = FakeEncoder()
    report = backend_agreement(reference, OtherSpaceEncoder(), TEXTS)
    guarded = AgreedEncoder(reference, "other", 0.99, lambda: (OtherSpaceEncoder(), report), "papers")
    assert not guarded.agrees and guarded.report() == report
    with pytest.raises(BackendMismatch) as exc:
        guarded.encode(["a query"])
    assert exc.value.code == "backend_mismatch" and exc.value.status == 409
    assert exc.value.details == {
        "collection": "papers",
        "model": "fake",
        "backend": "fake",
        "query_backend": "other",
        "mean_cosine": report.mean_cosine,
        "min_cosine": report.min_cosine,
        "required": 0.99,
        "sample": 64,
    }


# ----- through the store ---------------------------------------------------------------------------
def test_setting_reads_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LATENT_QUERY_BACKEND", "onnx-int8")
    monkeypatch.setenv("LATENT_QUERY_BACKEND_MIN_COSINE", "0.95")
    settings = get_settings()
    assert settings.query_backend == "onnx-int8" and settings.query_backend_min_cosine == 0.95


def test_unknown_query_backend_fails_at_start(make_settings) -> None:
    with pytest.raises(InvalidInput) as exc:
        Store.open(make_settings(query_backend="tensorrt"))
    assert exc.value.code == "invalid_query_backend" and exc.value.details == {"query_backend": "tensorrt"}


def test_without_query_backend_queries_use_the_write_encoder(store: Store) -> None:
    c = store.create_collection("papers")
    assert unwrap(c.query_encoder) is c.encoder  # behind the store's query cache and batcher
    info = c.info()
    assert info.query_backend is None and info.backend_agreement is None


def test_query_backend_equal_to_the_collections_changes_nothing(open_store, make_settings) -> None:
    c = open_store(make_settings(query_backend="torch")).create_collection("papers")
    assert unwrap(c.query_encoder) is c.encoder and c.info().query_backend is None


def test_agreeing_backend_serves_queries(open_store, make_settings) -> None:
    store = open_store(make_settings(query_backend="onnx"))  # the fake model gives the same vectors on any backend
    c = store.create_collection("papers")
    c.upsert(topical(24))
    assert store.list_collections()[0].backend_agreement is None  # not measured before the first query
    hits = search(c, "quantum particle energy", options=SearchOptions(k=3))
    assert hits[0].title.startswith("physics")
    info = c.info()
    assert info.backend == "torch" and info.query_backend == "onnx"
    report = info.backend_agreement
    assert (report.reference, report.candidate, report.sample) == ("torch", "onnx", 24)
    assert report.mean_cosine == pytest.approx(1.0)
    listed = store.list_collections()[0]
    assert listed.query_backend == "onnx" and listed.backend_agreement == report


def test_disagreeing_backend_refuses_queries_but_not_writes(open_store, make_settings, other_space) -> None:
    store = open_store(make_settings(query_backend="openvino-int8"))
    c = store.create_collection("papers")
    c.upsert(topical(24))  # writes always use the collection's own backend
    stored = c.document_vectors(["doc-1"])["doc-1"]
    expected = FakeEncoder().encode(["physics paper 1 A study of quantum particle energy field wave number 1."])[0]
    assert np.allclose(stored, expected, atol=1e-6)
    with pytest.raises(BackendMismatch) as exc:
        search(c, "quantum particle energy")
    details = exc.value.details
    assert details["backend"] == "torch" and details["query_backend"] == "openvino-int8"
    assert details["collection"] == "papers" and details["sample"] == 24
    assert details["mean_cosine"] < 0.99 and details["required"] == 0.98
    with pytest.raises(BackendMismatch):
        recommend_documents(c, [{"text": "quantum particle"}])
    assert neighbors(c, "doc-1", k=3)  # stored vectors only: no query text to encode
    report = c.info().backend_agreement
    assert report.mean_cosine == details["mean_cosine"] and report.min_cosine == details["min_cosine"]
    store.drop_collection("papers")


def test_threshold_decides(open_store, make_settings, other_space) -> None:
    store = open_store(make_settings(query_backend="openvino-int8", query_backend_min_cosine=-1.0))
    c = store.create_collection("papers")
    c.upsert(topical(8))
    assert len(search(c, "quantum particle energy", options=SearchOptions(k=3))) == 3


def test_empty_collection_measures_on_calibration_texts_once_per_pair(open_store, make_settings, other_space) -> None:
    store = open_store(make_settings(query_backend="openvino-int8"))
    first = store.create_collection("empty").info().backend_agreement
    assert first.sample == 64 and first.candidate == "openvino-int8"
    calls = other_space.calls
    second = store.create_collection("another").info().backend_agreement
    assert second == first and other_space.calls == calls  # cached per (model, backend pair) in the store
