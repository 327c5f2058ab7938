"""Embedding the next batch while writing the current one changes nothing about what gets stored."""

from __future__ import annotations

import threading

import pytest
from helpers.corpora import jsonl_records

from indexer.pipeline import index_documents, planned
from latent.errors import InvalidInput
from latent.records import DocumentInput
from latent.search import SearchOptions, search


def _docs(store, name):
    records, _total = store.collection(name).list_documents(limit=1000)
    return {d.id: d.text for d in records}


def _stream(records):
    return [DocumentInput(id=r["_id"], title=r.get("title", ""), text=r["text"]) for r in records]


def test_pipelined_and_sequential_store_the_same(store):
    records = jsonl_records(23)
    a = index_documents(store, "overlap", _stream(records), batch_docs=5, progress=False)
    b = index_documents(store, "sequential", _stream(records), batch_docs=5, progress=False, pipelined=False)
    assert (a.indexed, a.chunks) == (b.indexed, b.chunks) == (23, 23)
    assert _docs(store, "overlap") == _docs(store, "sequential")
    assert (
        search(store.collection("overlap"), records[4]["text"], options=SearchOptions(k=1))[0].id == records[4]["_id"]
    )


def test_a_document_repeated_in_the_next_batch_ends_with_its_last_content(store):
    """The second batch is planned only after the first is written, or it would compare with stale content."""
    batches = [
        [DocumentInput(id="x", text="first version"), DocumentInput(id="y", text="why")],
        [DocumentInput(id="x", text="second version"), DocumentInput(id="z", text="zed")],
        [DocumentInput(id="x", text="first version"), DocumentInput(id="w", text="double you")],
    ]
    collection = store.create_collection("repeat")
    for _batch, plan in planned(collection, batches):
        collection.write_plan(plan)
    assert collection.get("x").text == "first version"
    assert set(_docs(store, "repeat")) == {"x", "y", "z", "w"}


def test_next_batch_is_embedded_while_the_current_one_is_written(store):
    collection = store.create_collection("concurrent")
    embedded_in: list[str] = []
    plan_upsert = collection.plan_upsert

    def recording(docs):
        embedded_in.append(threading.current_thread().name)
        return plan_upsert(docs)

    collection.plan_upsert = recording
    batches = [[DocumentInput(id=f"d{i}", text=f"text number {i}")] for i in range(3)]
    order = []
    for docs, plan in planned(collection, batches):
        order.append((docs[0].id, len(embedded_in)))
        collection.write_plan(plan)
    # when batch i is handed out for writing, batch i+1 is already being embedded
    assert order == [("d0", 2), ("d1", 3), ("d2", 3)]
    assert set(embedded_in) == {"latent-embed"}


def test_an_error_while_embedding_reaches_the_caller(store):
    collection = store.create_collection("broken")
    batches = [[DocumentInput(id="ok", text="fine")], [DocumentInput(id="", text="no id")]]
    with pytest.raises(InvalidInput):
        for _batch, plan in planned(collection, batches):
            collection.write_plan(plan)
    assert collection.get("ok").text == "fine"  # the batch before the bad one is stored
