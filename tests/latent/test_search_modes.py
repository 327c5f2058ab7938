"""Dense, sparse (FTS5 BM25) and hybrid (reciprocal-rank fusion) search on a small corpus."""

from __future__ import annotations

import numpy as np
import pytest
from helpers.corpora import TOPICS, topical

from latent.errors import DimensionMismatch, DocumentNotFound, InvalidInput
from latent.records import DocumentInput
from latent.search import SearchOptions, neighbors, search, search_many
from latent.store.fts import fts_query

PHYSICS = {f"doc-{i}" for i in range(1, 24, 4)}


@pytest.fixture
def papers(store):
    collection = store.create_collection("papers")
    collection.upsert(topical(24))
    return collection


def ids(hits) -> list[str]:
    return [h.id for h in hits]


@pytest.mark.parametrize("mode", ["dense", "sparse", "hybrid"])
def test_every_mode_finds_the_topic(papers, mode):
    hits = search(papers, "quantum particle energy", options=SearchOptions(k=5, mode=mode))
    assert len(hits) == 5 and [h.rank for h in hits] == [1, 2, 3, 4, 5]
    assert set(ids(hits)) <= PHYSICS
    scores = [h.score for h in hits]
    assert scores == sorted(scores, reverse=True)
    assert set(hits[0].scores) == ({"dense", "sparse"} if mode == "hybrid" else {mode})


def test_sparse_needs_words_to_match(papers):
    assert search(papers, "xylophone zeppelin", options=SearchOptions(mode="sparse")) == []
    assert search(papers, "the of and is", options=SearchOptions(mode="sparse")) == []  # stop words only
    hits = search(papers, "enzymes", options=SearchOptions(k=24, mode="sparse"))  # stemmed: enzyme
    assert set(ids(hits)) == {f"doc-{i}" for i in range(0, 24, 4)}
    assert all(h.chunk is None for h in hits)
    # Dense still ranks something for words the corpus lacks; sparse returns nothing.
    assert len(search(papers, "xylophone zeppelin", options=SearchOptions(k=3, mode="dense"))) == 3


def test_sparse_prefers_more_matching_terms(papers):
    papers.upsert([DocumentInput(id="both", text="catalyst trial together")])
    hits = search(papers, "catalyst trial", options=SearchOptions(k=3, mode="sparse"))
    assert hits[0].id == "both"


def test_hybrid_is_reciprocal_rank_fusion_of_both_rankings(papers):
    query = "patient therapy reaction"
    dense = search(papers, query, options=SearchOptions(k=100, mode="dense"))
    sparse = search(papers, query, options=SearchOptions(k=100, mode="sparse"))
    expected: dict[str, float] = {}
    for ranking in (dense, sparse):
        for rank, hit in enumerate(ranking, start=1):
            expected[hit.id] = expected.get(hit.id, 0.0) + 1.0 / (60 + rank)
    hybrid = search(papers, query, options=SearchOptions(k=10, mode="hybrid"))
    assert [h.score for h in hybrid] == pytest.approx(sorted(expected.values(), reverse=True)[:10])
    for h in hybrid:
        assert h.score == pytest.approx(expected[h.id])
    both = next(h for h in hybrid if h.id in ids(sparse))
    assert set(both.scores) == {"dense", "sparse"}
    # Weights: all on sparse reproduces the sparse order.
    only_sparse = search(papers, query, options=SearchOptions(k=5, mode="hybrid", dense_weight=0.0))
    assert ids(only_sparse) == ids(sparse)[:5]


@pytest.mark.parametrize("mode", ["dense", "sparse", "hybrid"])
def test_offset_pages_through_the_ranking(papers, mode):
    full = search(papers, "study number molecule", options=SearchOptions(k=10, mode=mode))
    page = search(papers, "study number molecule", options=SearchOptions(k=4, offset=3, mode=mode))
    assert ids(page) == ids(full)[3:7] and [h.rank for h in page] == [4, 5, 6, 7]


def test_exclude_and_flags(papers):
    first = search(papers, "cell protein gene", options=SearchOptions(k=1))[0]
    rest = search(papers, "cell protein gene", options=SearchOptions(k=3, exclude={first.id}))
    assert first.id not in ids(rest) and len(rest) == 3
    hit = search(
        papers,
        "clinical trial",
        options=SearchOptions(k=1, with_text=True, with_metadata=True, with_vector=True),
    )[0]
    assert hit.metadata["topic"] == "medicine" and "therapy" in hit.text
    assert len(hit.vector) == 64 and np.linalg.norm(hit.vector) == pytest.approx(1.0, abs=1e-4)
    bare = search(papers, "clinical trial", options=SearchOptions(k=1))[0]
    assert bare.text is None and bare.metadata is None and bare.vector is None and bare.title


def test_vector_query_and_batch(papers):
    query = "molecule reaction bond"
    vec = papers.encoder.encode([query])[0]
    assert ids(search(papers, vector=vec.tolist(), options=SearchOptions(k=5))) == ids(
        search(papers, query, options=SearchOptions(k=5))
    )
    queries = [f"study of {words}" for words in TOPICS.values()]
    batch = search_many(papers, queries, options=SearchOptions(k=3))
    assert [ids(b) for b in batch] == [ids(search(papers, q, options=SearchOptions(k=3))) for q in queries]


def test_neighbors_exclude_the_document_itself(papers):
    near = neighbors(papers, "doc-0", k=5)
    assert "doc-0" not in ids(near) and len(near) == 5
    assert ids(near)[0] in {f"doc-{i}" for i in range(4, 24, 4)}  # another biology paper
    with pytest.raises(DocumentNotFound):
        neighbors(papers, "missing")


def test_sparse_index_follows_updates_and_deletes(papers):
    papers.upsert([DocumentInput(id="doc-0", text="zeppelin airship")])
    assert ids(search(papers, "zeppelin", options=SearchOptions(mode="sparse"))) == ["doc-0"]
    assert "doc-0" not in ids(search(papers, "enzyme", options=SearchOptions(k=24, mode="sparse")))
    papers.delete(["doc-0"])
    assert search(papers, "zeppelin", options=SearchOptions(mode="sparse")) == []


@pytest.mark.parametrize(
    ("kwargs", "code"),
    [
        ({"query": "x", "options": SearchOptions(mode="fuzzy")}, "invalid_mode"),
        ({"query": "   "}, "empty_query"),
        ({}, "invalid_query"),
        ({"query": "x", "vector": [0.0] * 64}, "invalid_query"),
        ({"vector": [0.1] * 64, "options": SearchOptions(mode="sparse")}, "invalid_query"),
        ({"vector": [float("nan")] * 64}, "invalid_vector"),
    ],
)
def test_bad_queries_are_invalid_input(papers, kwargs, code):
    with pytest.raises(InvalidInput) as info:
        search(papers, **kwargs)
    assert info.value.code == code


def test_wrong_dimension_query_vector(papers):
    with pytest.raises(DimensionMismatch):
        search(papers, vector=[0.1] * 10)


@pytest.mark.parametrize("vectors", [[[0.1] * 64, [0.1] * 10], [["a"] * 64], []])
def test_batch_query_vectors_pass_the_one_validator(papers, vectors):
    """Ragged, non-numeric or no vectors at all: `invalid_vector` (`latent.vectors.as_vectors`), not a crash."""
    with pytest.raises(InvalidInput) as info:
        search_many(papers, vectors=vectors)
    assert info.value.code == "invalid_vector"


def test_sparse_search_needs_sqlite(papers):
    papers.dialect = "postgresql"  # the FTS5 SQL (latent.store.fts) refuses before it builds a statement
    with pytest.raises(InvalidInput) as info:
        search(papers, "quantum", options=SearchOptions(mode="sparse"))
    assert info.value.code == "sparse_unsupported"


def test_fts_query_ors_distinct_terms_without_stop_words():
    assert (
        fts_query("Does the vitamin D prevent the fractures? vitamin") == '"vitamin" OR "d" OR "prevent" OR "fractures"'
    )
    assert fts_query("the of") is None


SEMANTIC = [
    DocumentInput(id="bike", text="Repairing a punctured bike tyre, step by step."),
    DocumentInput(id="bread", text="Baking sourdough bread with a long cold fermentation."),
    DocumentInput(id="tax", text="Filing an income tax return before the deadline."),
    DocumentInput(id="garden", text="Pruning roses in early spring encourages flowering."),
]


@pytest.mark.slow
def test_real_model_dense_finds_meaning_sparse_needs_words(real_store):
    collection = real_store.create_collection("modes-real", exist_ok=True)
    collection.upsert(SEMANTIC)
    query = "how do I fix a flat bicycle tire"
    assert search(collection, query, options=SearchOptions(k=1))[0].id == "bike"
    assert "bike" not in ids(search(collection, query, options=SearchOptions(k=4, mode="sparse")))
    assert search(collection, query, options=SearchOptions(k=1, mode="hybrid"))[0].id == "bike"
