"""IVF-PQ re-ranking with exact vectors kept outside the index: the index alone and through the store."""

from __future__ import annotations

import numpy as np
import pytest
from sqlalchemy import select

from latent.index.factory import create_index, deserialize_index
from latent.index.recall import exact_search, measure_recall
from latent.records import DocumentInput
from latent.search import SearchOptions, search
from latent.store.check import check_store
from latent.store.models import ChunkRow
from latent.store.vectors import decode_vectors

DIM = 32
# coarse codes (4 sub-quantizers x 4 bits = 2 bytes): plain PQ scores are visibly approximate
SPEC = "ivf-pq:nlist=8,nprobe=8,pq_m=4,nbits=4,train_size=400,max_train=1200,opq=0"
# the store's collections (fake encoder, 64-d); refine=32 makes every vector a candidate at this size
STORE_SPEC = "ivf-pq:nlist=4,pq_m=16,nbits=4,train_size=200,opq=0,refine=32"


pytestmark = pytest.mark.usefixtures("single_threaded_faiss")


@pytest.fixture(scope="module")
def data() -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(0)
    centres = rng.standard_normal((40, DIM))
    x = centres[np.arange(1200) % 40] + 0.6 * rng.standard_normal((1200, DIM))
    x = (x / np.linalg.norm(x, axis=1, keepdims=True)).astype(np.float32)
    ids = np.arange(1200, dtype=np.int64) * 7 + 3  # sparse ids, like SQL after deletes
    return ids, x


def lookup(ids: np.ndarray, x: np.ndarray, calls: list[int] | None = None):
    """An array-backed vector source (the store's is SQL); records how many ids each call asked for."""
    row_of = {int(i): r for r, i in enumerate(ids)}

    def source(wanted: np.ndarray) -> np.ndarray:
        if calls is not None:
            calls.append(len(wanted))
        out = np.full((len(wanted), x.shape[1]), np.nan, dtype=np.float32)
        for j, i in enumerate(wanted.tolist()):
            if i in row_of:
                out[j] = x[row_of[i]]
        return out

    return source


def test_refine_is_a_spec_parameter_that_round_trips(data):
    ids, x = data
    index = create_index(SPEC + ",refine=3", DIM)
    index.add(ids, x)
    assert index.params["refine"] == 3 and index.stats()["params"]["refine"] == 3
    assert index.stats()["reranked"] is False  # no source attached yet
    restored = deserialize_index("ivf-pq", DIM, index.serialize())
    assert restored.refine == 3 and restored.vector_source is None  # the source is never serialized
    assert create_index("ivf-pq:pq_m=8", DIM).refine > 1  # on by default (once a source is attached)


def test_reranked_search_is_exact_when_candidates_hold_the_true_top_k(data):
    ids, x = data
    index = create_index(SPEC + ",refine=40", DIM)
    index.add(ids, x)
    queries = x[::25]
    truth = exact_search(queries, ids, x, 10)
    plain = index.search(queries, 10)
    calls: list[int] = []
    index.vector_source = lookup(ids, x, calls)
    assert index.stats()["reranked"]
    got = index.search(queries, 10)
    assert len(calls) == 1  # one fetch for the whole batch: the union of every query's candidates
    assert calls[0] == len(np.unique(index._search_codes(queries, 400, 10, None).ids))
    np.testing.assert_array_equal(got.ids, truth.ids)
    np.testing.assert_allclose(got.scores, truth.scores, rtol=1e-5, atol=1e-5)  # exact, not PQ scores
    assert not np.allclose(plain.scores, truth.scores, atol=1e-3)
    assert measure_recall(index, queries, 10, ids=ids, vectors=x) == 1.0


def test_refine_raises_recall_over_plain_pq(data):
    ids, x = data
    index = create_index(SPEC + ",refine=4", DIM)
    index.add(ids, x)
    queries = x[1::20]
    plain = measure_recall(index, queries, 10, ids=ids, vectors=x)
    index.vector_source = lookup(ids, x)
    refined = measure_recall(index, queries, 10, ids=ids, vectors=x)
    assert refined > plain + 0.1, (plain, refined)
    index.refine = 1  # refine=1 turns re-ranking off even with a source
    assert measure_recall(index, queries, 10, ids=ids, vectors=x) == plain


def test_rerank_keeps_filters_and_drops_ids_the_source_no_longer_has(data):
    ids, x = data
    index = create_index(SPEC + ",refine=8", DIM)
    index.add(ids, x)
    gone = set(ids[::3].tolist())  # deleted from the store after the index answered
    index.vector_source = _without(ids, x, gone)
    queries = x[:30]
    result = index.search(queries, 10)
    assert not np.isin(result.ids, list(gone)).any()
    assert ((result.ids >= 0).sum(axis=1) == 10).all()
    allowed = ids[(np.arange(len(ids)) % 40) < 2]  # two clusters' worth, 60 vectors (the full-scan path)
    result = index.search(queries, 10, allowed=allowed)
    hits = result.ids >= 0
    assert np.isin(result.ids[hits], allowed).all() and not np.isin(result.ids, list(gone)).any()
    assert (hits.sum(axis=1) == 10).all() and np.isneginf(result.scores[~hits]).all()
    few = index.search(queries[:3], 10, allowed=ids[[1, 2, 4]])  # fewer allowed than k: padded with -1
    assert ((few.ids >= 0).sum(axis=1) == 3).all() and not np.isin(few.ids, list(gone)).any()


def _without(ids: np.ndarray, x: np.ndarray, gone: set[int]):
    keep = np.array([i not in gone for i in ids.tolist()])
    return lookup(ids[keep], x[keep])


def test_untrained_buffer_is_exact_and_never_calls_the_source(data):
    ids, x = data
    index = create_index(SPEC.replace("train_size=400", "train_size=5000"), DIM)
    index.add(ids, x)
    calls: list[int] = []
    index.vector_source = lookup(ids, x, calls)
    assert not index.stats()["reranked"]
    np.testing.assert_array_equal(index.search(x[:5], 10).ids, exact_search(x[:5], ids, x, 10).ids)
    assert calls == []


# ----- through the store -------------------------------------------------------------------------


def docs(n: int, start: int = 0) -> list[DocumentInput]:
    return [DocumentInput(id=f"d{i}", text=f"word{i % 40} other{i % 7} thing{i}") for i in range(start, start + n)]


def sql_vectors(collection) -> tuple[np.ndarray, np.ndarray]:
    with collection.sessions() as s:
        rows = s.execute(
            select(ChunkRow.id, ChunkRow.vector).where(ChunkRow.collection_id == collection.id).order_by(ChunkRow.id)
        ).all()
    return np.array([r[0] for r in rows], dtype=np.int64), decode_vectors([r[1] for r in rows], collection.dimension)


def test_store_reranks_with_sql_vectors_and_search_is_exact(open_store):
    store = open_store()
    c = store.create_collection("c", index=STORE_SPEC)
    c.upsert(docs(300))
    c.delete(["d3", "d44"])
    stats = c.info().index_stats
    assert stats["trained"] and stats["reranked"] and stats["params"]["refine"] == 32
    assert stats["bytes_per_vector"] < 64  # the exact vectors stay in SQL, outside the index
    ids, vectors = sql_vectors(c)
    queries = vectors[::37]
    truth = exact_search(queries, ids, vectors, 10)
    with c.vectors.lock.read():
        got = c.vectors.index.search(queries, 10)
    np.testing.assert_array_equal(got.ids, truth.ids)
    np.testing.assert_allclose(got.scores, truth.scores, atol=1e-5)
    # the public search: scores are the exact cosine similarities, deleted documents never come back
    for gone in ("d3", "d44"):
        vector = c.encoder.encode([docs(1, int(gone[1:]))[0].text])[0]
        hits = search(c, vector=vector.tolist(), options=SearchOptions(k=5))
        assert gone not in {h.id for h in hits} and len(hits) == 5
    hits = search(c, vector=vectors[0].tolist(), options=SearchOptions(k=3))
    assert hits[0].score == pytest.approx(1.0, abs=1e-5)
    c.checkpoint()
    assert c.info().index_stats["recall@10"] == 1.0  # measured on the re-ranked search
    (report,) = check_store(store, "c")
    assert report.ok, report.problems


def test_reader_process_reranks_and_drops_rows_deleted_before_it_caught_up(open_store, settings):
    writer = open_store()
    c = writer.create_collection("c", index=STORE_SPEC)
    c.upsert(docs(300))
    c.checkpoint()
    reader = open_store(settings).collection("c")  # a second store: what another process sees
    assert reader.info().index_stats["reranked"]
    ids, vectors = sql_vectors(c)
    c.delete(["d0", "d1", "d2"])  # committed by the writer; the reader's index still holds them
    removed = np.setdiff1d(ids, sql_vectors(c)[0])
    with reader.vectors.lock.read():  # search the stale index directly, as a search racing the delete would
        stale = reader.vectors.index.search(vectors[:3], 10)
    assert not np.isin(stale.ids, removed).any() and (stale.ids >= 0).all()
    hits = search(reader, vector=vectors[0].tolist(), options=SearchOptions(k=10))  # catches up first
    assert not {"d0", "d1", "d2"} & {h.id for h in hits}


def test_big_batches_are_split_and_deep_k_keeps_pq_scores(data, monkeypatch):
    from latent.index import ivfpq

    ids, x = data
    index = create_index(SPEC + ",refine=4", DIM)
    index.add(ids, x)
    calls: list[int] = []
    index.vector_source = lookup(ids, x, calls)
    queries = x[:12]
    whole = index.search(queries, 10)
    monkeypatch.setattr(ivfpq, "MAX_SOURCE_ROWS", 200)  # 40 candidates a query: 5 queries per source call
    calls.clear()
    split = index.search(queries, 10)
    assert len(calls) == 3 and max(calls) <= 200
    np.testing.assert_array_equal(split.ids, whole.ids)
    np.testing.assert_array_equal(split.scores, whole.scores)
    monkeypatch.setattr(ivfpq, "MAX_RERANK_CANDIDATES", 5)  # k above the cap: PQ scores, no source call
    calls.clear()
    index.vector_source = lookup(ids, x, calls)
    deep = index.search(queries, 10)
    index.vector_source = None
    np.testing.assert_array_equal(deep.ids, index.search(queries, 10).ids)
    assert calls == []
