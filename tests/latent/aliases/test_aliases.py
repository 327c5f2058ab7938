"""Aliases on the store: resolution in `Store.collection`, names never shared, atomic switches."""

from __future__ import annotations

import threading

import pytest
from helpers.corpora import topical

from latent.aliases import delete_alias, get_alias, list_aliases, set_alias
from latent.errors import Conflict, InvalidInput, NotFound
from latent.search import SearchOptions, search
from latent.store.store import Store


def _two(store: Store) -> None:
    store.create_collection("v1").upsert(topical(24, prefix="one"))
    store.create_collection("v2").upsert(topical(24, prefix="two"))


def test_an_alias_opens_its_collection_and_switches(store: Store) -> None:
    _two(store)
    created = set_alias(store, "live", "v1")
    assert (created.collection, created.previous) == ("v1", None)
    assert store.collection("live") is store.collection("v1")  # the same open object: no second index
    switched = set_alias(store, "live", "v2")
    assert (switched.collection, switched.previous) == ("v2", "v1")
    assert store.collection("live").name == "v2"
    assert [(a.name, a.collection) for a in list_aliases(store)] == [("live", "v2")]
    assert set_alias(store, "other", "live").collection == "v2"  # a target given by alias: its collection
    assert delete_alias(store, "live").collection == "v2"
    with pytest.raises(NotFound) as missing:
        store.collection("live")
    assert missing.value.code == "collection_not_found"
    with pytest.raises(NotFound) as gone:
        get_alias(store, "live")
    assert gone.value.code == "alias_not_found"


def test_alias_and_collection_names_never_collide(store: Store) -> None:
    _two(store)
    with pytest.raises(Conflict) as taken:
        set_alias(store, "v1", "v2")
    assert taken.value.code == "alias_name_taken"
    set_alias(store, "live", "v1")
    with pytest.raises(Conflict) as exists:
        store.create_collection("live")
    assert exists.value.code == "alias_exists"
    # Where a collection may already exist (the indexer's create-or-open), the alias means its collection.
    assert store.create_collection("live", exist_ok=True).name == "v1"
    with pytest.raises(NotFound):
        set_alias(store, "live", "nothing")
    with pytest.raises(InvalidInput):
        set_alias(store, "bad name!", "v1")


def test_a_collection_an_alias_points_at_cannot_be_dropped(store: Store) -> None:
    _two(store)
    set_alias(store, "live", "v1")
    set_alias(store, "backup", "v1")
    for name in ("v1", "live"):  # by its name or through the alias
        with pytest.raises(Conflict) as refused:
            store.drop_collection(name)
        assert refused.value.code == "collection_has_aliases"
        assert refused.value.details["aliases"] == ["backup", "live"]
    set_alias(store, "live", "v2")
    delete_alias(store, "backup")
    store.drop_collection("v1")
    assert [c.name for c in store.list_collections()] == ["v2"]


def test_switching_under_concurrent_searches_never_mixes_collections(store: Store) -> None:
    """Every search resolves the alias once: its ids all come from one collection, old or new."""
    _two(store)
    set_alias(store, "live", "v1")
    seen: list[set[str]] = []
    errors: list[BaseException] = []
    stop = threading.Event()

    def searcher() -> None:
        try:
            while not stop.is_set():
                hits = search(store.collection("live"), "protein gene quantum energy", options=SearchOptions(k=10))
                seen.append({h.id.split("-")[0] for h in hits})
        except BaseException as exc:  # noqa: BLE001 - reported by the assertion below
            errors.append(exc)

    threads = [threading.Thread(target=searcher) for _ in range(4)]
    for t in threads:
        t.start()
    try:
        for i in range(60):
            set_alias(store, "live", "v2" if i % 2 == 0 else "v1")
    finally:
        stop.set()
        for t in threads:
            t.join()
    assert errors == []
    assert seen and all(len(prefixes) == 1 for prefixes in seen)
    assert {p for prefixes in seen for p in prefixes} == {"one", "two"}  # both sides were searched


@pytest.mark.postgres
def test_aliases_on_postgres(make_settings, open_store, postgres_url) -> None:  # noqa: ANN001
    store = open_store(make_settings(database_url=postgres_url))
    _two(store)
    assert set_alias(store, "live", "v1").previous is None
    assert store.collection("live").name == "v1"
    assert set_alias(store, "live", "v2").previous == "v1"
    assert search(store.collection("live"), "protein", options=SearchOptions(k=3))[0].id.startswith("two")
    with pytest.raises(Conflict):
        store.drop_collection("v2")
    assert [a.collection for a in list_aliases(store)] == ["v2"]
