"""Congruence: FAISS flat vs the NumPy reference, and the store on PostgreSQL vs on SQLite."""

from __future__ import annotations

import numpy as np
import pytest
from helpers.corpora import TOPICS, topical
from helpers.filters import CASES, filter_documents

from latent.errors import InvalidInput
from latent.index.flat import FlatIndex
from latent.index.reference import NumpyIndex
from latent.records import DocumentInput
from latent.search import SearchOptions, neighbors, search
from latent.store.check import check_store


def unit(rows: int, dim: int, rng: np.random.Generator) -> np.ndarray:
    v = rng.standard_normal((rows, dim)).astype(np.float32)
    return v / np.linalg.norm(v, axis=1, keepdims=True)


@pytest.fixture(scope="module")
def indexes():
    rng = np.random.default_rng(7)
    vectors = unit(2000, 48, rng)
    ids = rng.choice(10**9, size=2000, replace=False).astype(np.int64)  # ids are arbitrary int64s
    flat, ref = FlatIndex(48), NumpyIndex(48)
    for index in (flat, ref):
        index.add(ids, vectors)
    return flat, ref, ids, unit(25, 48, rng)


def assert_same(a, b) -> None:
    np.testing.assert_array_equal(a.ids, b.ids)
    np.testing.assert_allclose(a.scores, b.scores, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("k", [1, 10, 100])
def test_flat_matches_numpy_reference(indexes, k):
    flat, ref, _, queries = indexes
    assert_same(flat.search(queries, k), ref.search(queries, k))


@pytest.mark.parametrize("n_allowed", [1, 20, 500])
def test_flat_matches_numpy_reference_with_allowed(indexes, n_allowed):
    flat, ref, ids, queries = indexes
    allowed = np.random.default_rng(n_allowed).choice(ids, size=n_allowed, replace=False)
    a, b = flat.search(queries, 10, allowed), ref.search(queries, 10, allowed)
    assert_same(a, b)
    found = a.ids[a.ids >= 0]
    assert np.isin(found, allowed).all()
    assert (a.ids >= 0).sum(axis=1).tolist() == [min(10, n_allowed)] * len(queries)
    assert np.isneginf(a.scores[a.ids < 0]).all()


def test_flat_matches_numpy_after_removals_and_round_trip(indexes):
    _, _, ids, queries = indexes
    rng = np.random.default_rng(3)
    vectors = unit(len(ids), 48, np.random.default_rng(7))
    flat, ref = FlatIndex(48), NumpyIndex(48)
    for index in (flat, ref):
        index.add(ids, vectors)
    gone = rng.choice(ids, size=300, replace=False)
    assert flat.remove(gone) == ref.remove(gone) == 300
    assert flat.remove(gone) == 0
    flat2 = FlatIndex.deserialize(48, flat.serialize())
    ref2 = NumpyIndex.deserialize(48, ref.serialize())
    assert_same(flat2.search(queries, 20), ref2.search(queries, 20))
    np.testing.assert_array_equal(np.sort(flat2.ids()), np.sort(ref2.ids()))
    assert len(flat2) == len(ref2) == len(ids) - 300


def test_empty_and_short_indexes_agree():
    rng = np.random.default_rng(1)
    flat, ref = FlatIndex(8), NumpyIndex(8)
    q = unit(2, 8, rng)
    assert_same(flat.search(q, 5), ref.search(q, 5))
    vecs = unit(3, 8, rng)
    flat.add(np.array([5, 6, 7]), vecs)
    ref.add(np.array([5, 6, 7]), vecs)
    assert_same(flat.search(q, 5), ref.search(q, 5))  # fewer than k: padded with -1 / -inf
    assert_same(flat.search(q, 5, np.array([], dtype=np.int64)), ref.search(q, 5, np.array([], dtype=np.int64)))


# ----- SQLite vs PostgreSQL -------------------------------------------------------------------------
QUERIES = [f"a study of {words}" for words in TOPICS.values()] + ["clinical energy", "number 7"]
SEARCH_FILTERS = [
    None,
    {"topic": "physics"},
    {"year": {"$gte": 2010}},
    {"tags": {"$contains": "odd"}},
    {"$or": [{"topic": "biology"}, {"year": {"$lt": 2003}}]},
]


def build(settings):
    from latent.store.store import Store

    store = Store.open(settings)
    papers = store.create_collection("papers")
    papers.upsert(topical(40))
    papers.upsert([DocumentInput(id="doc-3", text="zebra giraffe savanna")])  # a replacement
    papers.delete(["doc-5", "doc-6"])
    meta = store.create_collection("meta")
    meta.upsert(filter_documents())
    return store


@pytest.fixture(scope="module")
def both(tmp_path_factory, postgres_server):
    """The same collections on SQLite and on PostgreSQL (read-only for the tests using it)."""
    from latent.config import get_settings

    root = tmp_path_factory.mktemp("congruence")
    sqlite = build(get_settings(home=root / "sqlite", model="fake"))
    pg_url = postgres_server.create_database("latent_congruence")
    pg = build(get_settings(home=root / "pg", model="fake", database_url=pg_url))
    assert pg.dialect == "postgresql" and sqlite.dialect == "sqlite"
    yield sqlite, pg
    sqlite.close()
    pg.close()


@pytest.mark.postgres
def test_postgres_gives_the_same_search_results(both):
    sqlite, pg = both
    for name in ("papers", "meta"):
        a, b = sqlite.collection(name), pg.collection(name)
        assert a.count() == b.count()
    a, b = sqlite.collection("papers"), pg.collection("papers")
    for query in QUERIES:
        for spec in SEARCH_FILTERS:
            opts = {"k": 8, "filter": spec}
            ha = search(a, query, options=SearchOptions(**opts))
            hb = search(b, query, options=SearchOptions(**opts))
            assert [h.id for h in ha] == [h.id for h in hb], (query, spec)
            assert [h.score for h in ha] == pytest.approx([h.score for h in hb], abs=1e-5)
            assert [h.chunk for h in ha] == [h.chunk for h in hb]
    assert [h.id for h in neighbors(a, "doc-1", k=5)] == [h.id for h in neighbors(b, "doc-1", k=5)]
    assert a.get("doc-3").text == b.get("doc-3").text == "zebra giraffe savanna"
    assert all(r.ok for r in check_store(pg)), [r.problems for r in check_store(pg)]


@pytest.mark.postgres
def test_postgres_gives_the_same_filter_results(both):
    sqlite, pg = both
    a, b = sqlite.collection("meta"), pg.collection("meta")
    for spec, expected in CASES:
        got_a = {r.id for r in a.list_documents(filter=spec, limit=100)[0]}
        got_b = {r.id for r in b.list_documents(filter=spec, limit=100)[0]}
        assert got_a == got_b == expected, spec
    with pytest.raises(InvalidInput) as info:
        b.list_documents(filter={"year": {"$regex": "x"}})
    assert info.value.code == "invalid_filter"


@pytest.mark.postgres
def test_postgres_reopens_and_replays(make_settings, tmp_path, postgres_url):
    from latent.store.store import Store

    settings = make_settings(home=tmp_path / "pg", database_url=postgres_url)
    pg = build(settings)
    papers = pg.collection("papers")
    papers.checkpoint()
    papers.upsert([DocumentInput(id="late", text="zeppelin airship")])  # not yet in the file
    pg.close()
    reopened = Store.open(settings)
    try:
        again = reopened.collection("papers")
        assert again.vectors.loaded_from == "file"
        assert search(again, "zeppelin airship", options=SearchOptions(k=1))[0].id == "late"
        assert all(r.ok for r in check_store(reopened))
    finally:
        reopened.close()


@pytest.mark.postgres
@pytest.mark.parametrize("mode", ["sparse", "hybrid"])
def test_sparse_search_on_postgres_is_a_documented_gap(both, mode):
    _, pg = both
    with pytest.raises(InvalidInput) as info:
        search(pg.collection("papers"), "quantum", options=SearchOptions(mode=mode))
    assert info.value.code == "sparse_unsupported"
