"""Bring-your-own-vector collections through the core API: every index type and metric against brute force."""

from __future__ import annotations

import numpy as np
import pytest
from sqlalchemy import select

from latent.errors import DimensionMismatch, InvalidInput, NoEncoder
from latent.index.reference import NumpyIndex
from latent.records import DocumentInput, PrecomputedChunk
from latent.search import SearchOptions, search_many
from latent.store.byo import stored_content_hash
from latent.store.models import ChunkRow
from latent.store.store import Store
from latent.vectors import unit_rows

DIM = 16
N = 400
SPECS = {
    "flat": "flat",
    "hnsw": "hnsw:M=16,ef_search=128",
    "ivf-pq": "ivf-pq:nlist=8,nprobe=8,pq_m=4,nbits=4,train_size=300,opq=0",
    "auto": "auto",
}


def _docs(vectors: np.ndarray) -> list[DocumentInput]:
    return [
        DocumentInput(id=f"d{i}", text=f"doc {i}", precomputed=(PrecomputedChunk(0, len(f"doc {i}"), v),))
        for i, v in enumerate(vectors)
    ]


def _reference(metric: str, vectors: np.ndarray, queries: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """Brute-force ids (document numbers) and scores with the metric's meaning of `score`."""
    index = NumpyIndex(DIM, metric="l2" if metric == "l2" else "ip")
    stored, asked = (unit_rows(vectors), unit_rows(queries)) if metric == "cosine" else (vectors, queries)
    index.add(np.arange(len(stored)), stored)
    result = index.search(asked, k)
    return result.ids, result.scores


@pytest.mark.parametrize("metric", ["cosine", "dot", "l2"])
@pytest.mark.parametrize("kind", list(SPECS))
def test_byo_search_matches_brute_force(store: Store, kind: str, metric: str) -> None:
    rng = np.random.default_rng(7)
    vectors = (rng.standard_normal((N, DIM)) * rng.uniform(0.2, 3.0, (N, 1))).astype(np.float32)
    queries = rng.standard_normal((20, DIM)).astype(np.float32)
    collection = store.create_collection("own", index=SPECS[kind], dimension=DIM, metric=metric)
    assert not collection.has_encoder and collection.metric == metric
    collection.upsert(_docs(vectors))
    k = 10
    hits = search_many(collection, vectors=queries, options=SearchOptions(k=k))
    want_ids, want_scores = _reference(metric, vectors, queries, k)
    overlap = []
    for row, got in enumerate(hits):
        got_ids = [int(h.id[1:]) for h in got]
        overlap.append(len(set(got_ids) & set(want_ids[row].tolist())) / k)
        scores = dict(zip(want_ids[row].tolist(), want_scores[row].tolist(), strict=True))
        for h in got:  # every returned score is the exact one (IVF-PQ re-ranks with the stored vectors)
            if int(h.id[1:]) in scores:
                assert h.score == pytest.approx(scores[int(h.id[1:])], rel=1e-3, abs=1e-3)
        assert [h.score for h in got] == sorted((h.score for h in got), reverse=True)
    exact = kind in ("flat", "auto")
    assert np.mean(overlap) == 1.0 if exact else np.mean(overlap) >= 0.9
    if metric == "l2":
        assert all(h.score <= 0 for got in hits for h in got)  # negative squared distances
    # reopened from its file (and rebuilt from SQL) the index keeps its metric
    store.close()
    reopened = Store.open(store.settings).collection("own")
    again = search_many(reopened, vectors=queries[:3], options=SearchOptions(k=k))
    assert [[h.id for h in r] for r in again] == [[h.id for h in r] for r in hits[:3]]
    reopened.vectors.rebuild()
    rebuilt = search_many(reopened, vectors=queries[:3], options=SearchOptions(k=k))
    assert [[h.id for h in r] for r in rebuilt] == [[h.id for h in r] for r in hits[:3]]


def test_dot_and_l2_store_vectors_as_given_cosine_normalises(store: Store) -> None:
    vector = np.array([3.0, 4.0] + [0.0] * (DIM - 2), dtype=np.float32)
    for metric, norm in (("cosine", 1.0), ("dot", 5.0), ("l2", 5.0)):
        collection = store.create_collection(f"m-{metric}", dimension=DIM, metric=metric)
        collection.upsert(_docs(vector[None, :]))
        stored = collection.stored_vectors(["d0"])["d0"]
        assert np.linalg.norm(stored) == pytest.approx(norm)


def test_content_hash_covers_the_vector(store: Store) -> None:
    collection = store.create_collection("own", dimension=DIM, metric="dot")
    v = np.ones(DIM, dtype=np.float32)
    assert collection.upsert(_docs(v[None, :])).upserted == 1
    assert collection.upsert(_docs(v[None, :])).unchanged == 1  # identical re-upsert: a no-op
    assert collection.upsert(_docs(2 * v[None, :])).upserted == 1  # a changed vector is a changed document
    assert collection.stored_vectors(["d0"])["d0"][0] == pytest.approx(2.0)


@pytest.mark.parametrize("metric", ["cosine", "dot"])
def test_stored_hash_is_recomputable_from_the_chunk_rows(store: Store, metric: str) -> None:
    """The hash covers the vectors as stored (unit under cosine), so it can be checked from SQL alone, and
    writing the stored vectors back (an export re-imported) is a no-op."""
    collection = store.create_collection("own", dimension=DIM, metric=metric)
    collection.upsert(_docs(np.arange(1, DIM + 1, dtype=np.float32)[None, :]))
    with store.sessions() as s:
        rows = s.execute(
            select(ChunkRow.char_start, ChunkRow.char_end, ChunkRow.vector).where(
                ChunkRow.collection_id == collection.id
            )
        ).all()
    doc = collection.get("d0")
    assert stored_content_hash(doc.title, doc.text, rows, DIM) == doc.content_hash
    stored = collection.stored_vectors(["d0"])["d0"]
    assert collection.upsert(_docs(stored[None, :])).unchanged == 1


def test_precomputed_is_validated(store: Store) -> None:
    collection = store.create_collection("own", dimension=DIM)
    with pytest.raises(DimensionMismatch):
        collection.upsert(_docs(np.ones((1, DIM + 1), np.float32)))
    with pytest.raises(InvalidInput) as nan:
        collection.upsert(_docs(np.full((1, DIM), np.nan, np.float32)))
    assert nan.value.code == "invalid_vector"
    outside = DocumentInput("x", "short", precomputed=(PrecomputedChunk(0, 99, np.ones(DIM)),))
    with pytest.raises(InvalidInput) as span:
        collection.upsert([outside])
    assert span.value.code == "invalid_chunks"
    backwards = DocumentInput(
        "y", "two chunks", precomputed=(PrecomputedChunk(4, 10, np.ones(DIM)), PrecomputedChunk(0, 3, np.ones(DIM)))
    )
    with pytest.raises(InvalidInput, match="out of order"):
        collection.upsert([backwards])
    with pytest.raises(NoEncoder):
        collection.upsert([DocumentInput("z", "text but no vector")])
    with pytest.raises(NoEncoder):
        search_many(collection, queries=["text"], options=SearchOptions())
    assert collection.count() == 0


def test_model_collection_takes_precomputed_chunks(store: Store) -> None:
    """A re-import of vectors made by the same model: stored as given, several chunks per document."""
    collection = store.create_collection("papers")
    text = "first half. second half."
    vecs = collection.encoder.encode(["first half.", "second half."])
    doc = DocumentInput(
        "a", text, precomputed=(PrecomputedChunk(0, 11, vecs[0]), PrecomputedChunk(12, len(text), vecs[1]))
    )
    assert collection.upsert([doc]).upserted == 1
    assert collection.get("a").chunk_count == 2
    hits = search_many(collection, vectors=vecs[1:], options=SearchOptions(k=1))
    assert hits[0][0].chunk == {"ordinal": 1, "start": 12, "end": len(text)}


def test_create_checks(store: Store) -> None:
    with pytest.raises(InvalidInput) as metric:
        store.create_collection("bad", dimension=DIM, metric="manhattan")
    assert metric.value.code == "invalid_metric"
    with pytest.raises(InvalidInput) as dim:
        store.create_collection("bad", dimension=0)
    assert dim.value.code == "invalid_dimension"
    with pytest.raises(DimensionMismatch):
        store.create_collection("bad", model="fake", dimension=3)
    store.create_collection("own", dimension=DIM, metric="l2")
    assert store.create_collection("own", dimension=DIM, exist_ok=True).metric == "l2"
    with pytest.raises(Exception) as conflict:
        store.create_collection("own", dimension=DIM, metric="dot", exist_ok=True)
    assert getattr(conflict.value, "code", None) == "metric_mismatch"
    assert store.list_collections()[0].model == ""
