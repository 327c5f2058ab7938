"""The search hot path does no needless I/O: SQL statements counted per search (SQLAlchemy's
`before_cursor_execute`), the open-collection cache (no global lock, replicas see drops and re-creates),
columns selected only when asked for, no cluster lookup without a clustering, FAISS threads capped in
whichever thread searches."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager

import pytest
from helpers.corpora import topical
from sqlalchemy import event, insert, select

from latent.errors import CollectionNotFound
from latent.records import ChunkSpan
from latent.search import SearchOptions, search
from latent.store.feature_models import ClusterAssignmentRow, ClusteringRow
from latent.store.models import DocumentRow


@contextmanager
def statements(store) -> Iterator[list[str]]:
    """Every SQL statement the store's engine executes inside the block, whitespace squeezed."""
    seen: list[str] = []

    def record(conn, cursor, statement, *args) -> None:
        seen.append(" ".join(statement.split()))

    event.listen(store.engine, "before_cursor_execute", record)
    try:
        yield seen
    finally:
        event.remove(store.engine, "before_cursor_execute", record)


@pytest.fixture
def papers(store):
    collection = store.create_collection("papers")
    collection.upsert(topical(24))
    return collection


def cluster_everything(collection) -> int:
    """A clustering run that puts every document in cluster 7 (rows written as the clustering job would)."""
    with collection.sessions() as s, s.begin():
        clustering_id = s.scalar(
            insert(ClusteringRow).values(collection_id=collection.id, algorithm="kmeans").returning(ClusteringRow.id)
        )
        doc_ids = s.scalars(select(DocumentRow.id).where(DocumentRow.collection_id == collection.id)).all()
        s.execute(
            insert(ClusterAssignmentRow),
            [{"clustering_id": clustering_id, "document_id": d, "cluster": 7} for d in doc_ids],
        )
    return clustering_id


class NoLock:
    """Stands in for the store's global lock: the cached lookup must never take it."""

    def __enter__(self):
        raise AssertionError("Store.collection took the global lock on a cached lookup")

    def __exit__(self, *exc):
        return False


def test_cached_collection_lookup_is_one_small_query_without_the_global_lock(store, papers):
    lock, store._lock = store._lock, NoLock()
    try:
        with statements(store) as seen:
            again = store.collection("papers")
    finally:
        store._lock = lock
    assert again is papers
    assert len(seen) == 1
    assert "collections.index_info" not in seen[0]  # only the row's identity, not the whole row


def test_replicas_see_each_others_drops_and_re_creates(open_store, store, papers):
    other = open_store()
    other.drop_collection("papers")
    with pytest.raises(CollectionNotFound):
        store.collection("papers")

    old = papers
    store._open["papers"] = old  # as if this replica still held it open
    other.create_collection("papers")  # SQLite hands the dropped collection's id out again
    fresh = store.collection("papers")
    assert fresh is not old and fresh.count() == 0
    assert store.collection("papers") is fresh


def test_dense_search_runs_four_statements_and_no_cluster_lookup_without_a_clustering(store, papers):
    search(store.collection("papers"), "quantum physics")  # warm: the first search may replay
    with statements(store) as seen:
        hits = search(store.collection("papers"), "quantum physics", options=SearchOptions(k=5))
    assert len(hits) == 5 and all(h.cluster is None for h in hits)
    assert not any("cluster_assignments" in s for s in seen), seen
    # collection lookup, catch-up check (with the newest clustering), chunk owners, hit documents
    assert len(seen) == 4, seen
    documents = [s for s in seen if s.startswith("SELECT") and "FROM documents WHERE" in s]
    assert len(documents) == 1 and "documents.text" not in documents[0]  # with_text is off
    assert "documents.metadata" not in documents[0]


def test_hits_carry_the_newest_clustering_in_one_more_statement(store, papers):
    cluster_everything(papers)
    with statements(store) as seen:
        hits = search(papers, "quantum physics", options=SearchOptions(k=5))
    assert [h.cluster for h in hits] == [7] * 5
    assert len(seen) == 4, seen  # catch-up check, chunk owners, documents, clusters of the hits


def test_get_many_without_text_does_not_select_the_text_column(store, papers):
    with statements(store) as seen:
        records = papers.get_many(["doc-1", "doc-2"], with_text=False, with_metadata=False)
    assert [r.id for r in records] == ["doc-1", "doc-2"]
    assert all(r.text is None and r.metadata is None and r.title for r in records)
    assert len(seen) == 1 and "documents.text" not in seen[0] and "documents.metadata" not in seen[0]
    full = papers.get_many(["doc-1"])[0]
    assert full.text and full.metadata is not None


def test_chunk_documents_returns_named_records(papers):
    vector_id = int(papers.vectors.ids()[0])
    span = papers.chunk_documents([vector_id])[vector_id]
    assert isinstance(span, ChunkSpan)
    assert span.external_id.startswith("doc-") and span.ordinal == 0 and span.char_start < span.char_end


def in_fresh_thread(call: Callable[[], None]) -> int:
    """Run `call` in a new thread whose OpenMP team starts at 3 threads; the team size afterwards."""
    import faiss

    out: list[int] = []
    failures: list[BaseException] = []

    def body() -> None:
        try:
            faiss.omp_set_num_threads(3)
            call()
            out.append(faiss.omp_get_max_threads())
        except BaseException as exc:  # re-raised in the test's thread
            failures.append(exc)

    thread = threading.Thread(target=body)
    thread.start()
    thread.join()
    if failures:
        raise failures[0]
    return out[0]


def test_every_index_search_caps_faiss_threads_in_the_calling_thread(make_settings, open_store):
    store = open_store(make_settings(faiss_threads=1))
    collection = store.create_collection("papers")
    collection.upsert(topical(8))
    assert in_fresh_thread(lambda: search(collection, "quantum physics")) == 1
    query = collection.encoder.encode(["quantum physics"])
    assert in_fresh_thread(lambda: collection.vectors.search(query, 3)) == 1  # what every feature calls
