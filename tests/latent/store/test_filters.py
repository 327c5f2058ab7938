"""Metadata filters: every operator, nesting, errors, and pre-filtering that still returns k hits."""

from __future__ import annotations

import pytest
from helpers.filters import CASES, filter_documents

from latent.config import get_settings
from latent.errors import InvalidInput
from latent.records import DocumentInput
from latent.search import SearchOptions, search
from latent.store.store import Store


@pytest.fixture(scope="module")
def meta(tmp_path_factory):
    """Read-only for every test here, so one store serves the module."""
    store = Store.open(get_settings(home=tmp_path_factory.mktemp("filters"), model="fake"))
    collection = store.create_collection("meta")
    collection.upsert(filter_documents())
    yield collection
    store.close()


def kept(collection, spec) -> set[str]:
    return {r.id for r in collection.list_documents(filter=spec, limit=1000)[0]}


@pytest.mark.parametrize(("spec", "expected"), CASES, ids=[str(c[0]) for c in CASES])
def test_operator(meta, spec, expected):
    assert kept(meta, spec) == expected


def test_every_operator_is_covered():
    used = set()

    def walk(node):
        if isinstance(node, dict):
            for key, value in node.items():
                if key.startswith("$"):
                    used.add(key)
                walk(value)
        elif isinstance(node, list):
            for item in node:
                walk(item)

    for spec, _ in CASES:
        walk(spec)
    assert used >= {
        "$eq",
        "$ne",
        "$in",
        "$nin",
        "$gt",
        "$gte",
        "$lt",
        "$lte",
        "$exists",
        "$contains",
        "$and",
        "$or",
        "$not",
    }


@pytest.mark.parametrize("mode", ["dense", "sparse", "hybrid"])
def test_filters_apply_to_every_search_mode(meta, mode):
    hits = search(meta, "document about things", options=SearchOptions(k=10, mode=mode, filter={"lang": "en"}))
    assert {h.id for h in hits} == {"a", "c", "e"}


@pytest.mark.parametrize(
    "spec",
    [
        {"year": {"$regex": "20.*"}},  # unknown comparison
        {"$xor": [{"a": 1}]},  # unknown logical operator
        {"$and": []},
        {"$or": {"a": 1}},
        {"$not": [{"a": 1}]},
        {"year": {"$in": 2020}},
        {"year": {"$in": [[1]]}},
        {"year": {"$exists": "yes"}},
        {"year": {"$gt": True}},
        {"year": {"$gt": [1]}},
        {"year": {}},
        {"year": None},
        {"bad field": 1},
        {"a..b": 1},
        {"id": {"$gt": "a"}},
        [{"a": 1}],
    ],
    ids=str,
)
def test_malformed_filters_are_invalid_input(meta, spec):
    with pytest.raises(InvalidInput) as info:
        meta.list_documents(filter=spec)
    assert info.value.code == "invalid_filter"
    assert info.value.message


def test_unknown_operator_message_names_it(meta):
    with pytest.raises(InvalidInput) as info:
        search(meta, "document", options=SearchOptions(filter={"year": {"$between": [1, 2]}}))
    assert info.value.code == "invalid_filter" and "$between" in info.value.message
    assert info.value.details["operator"] == "$between"


def test_too_deep_is_invalid_input(make_settings, open_store):
    collection = open_store(make_settings(max_filter_depth=3)).create_collection("deep")
    ok = {"$not": {"$not": {"a": 1}}}
    collection.list_documents(filter=ok)
    spec = {"$not": {"$not": {"$not": {"a": 1}}}}
    with pytest.raises(InvalidInput) as info:
        collection.list_documents(filter=spec)
    assert info.value.code == "invalid_filter" and info.value.details == {"max_depth": 3}


def test_default_depth_limit(meta):
    spec: dict = {"a": 1}
    for _ in range(8):
        spec = {"$or": [spec]}
    with pytest.raises(InvalidInput) as info:
        meta.list_documents(filter=spec)
    assert info.value.code == "invalid_filter"


def test_selective_prefilter_still_returns_k_hits(store):
    """A filter keeping 1% of the documents: exact pre-filtering still finds k matching ones."""
    collection = store.create_collection("big")
    docs = [
        DocumentInput(
            id=f"d{i}",
            text=f"common words shared by everyone item{i}",
            metadata={"rare": i % 100 == 7, "n": i},
        )
        for i in range(1000)
    ]
    collection.upsert(docs)
    rare = {f"d{i}" for i in range(1000) if i % 100 == 7}
    hits = search(collection, "common words", options=SearchOptions(k=10, filter={"rare": True}))
    assert len(hits) == 10 and {h.id for h in hits} == rare
    hits = search(collection, "common words", options=SearchOptions(k=5, filter={"rare": True}))
    assert len(hits) == 5 and {h.id for h in hits} <= rare
    scores = [h.score for h in hits]
    assert scores == sorted(scores, reverse=True)
    # More asked than match: every match, nothing else.
    hits = search(collection, "common words", options=SearchOptions(k=50, filter={"rare": True}))
    assert {h.id for h in hits} == rare
    assert search(collection, "common words", options=SearchOptions(k=5, filter={"n": -1})) == []
