"""HNSW compaction: tombstones are dropped from the index's own vectors by writers and readers alike."""

from __future__ import annotations

import threading

import numpy as np
from sqlalchemy import select

from latent.index.factory import create_index, deserialize_index
from latent.index.recall import exact_search
from latent.records import DocumentInput
from latent.search import SearchOptions, search
from latent.store.check import check_store
from latent.store.indexfile import read_index_file
from latent.store.models import ChunkRow

SPEC = "hnsw:M=8,ef_construction=40,max_tombstone_ratio=0.1"


def docs(n: int) -> list[DocumentInput]:
    return [DocumentInput(id=f"d{i}", text=f"word{i % 30} other{i % 7} thing{i}") for i in range(n)]


def sql_ids(collection) -> np.ndarray:
    with collection.sessions() as s:
        rows = s.scalars(select(ChunkRow.id).where(ChunkRow.collection_id == collection.id)).all()
    return np.sort(np.asarray(rows, dtype=np.int64))


def test_compacted_keeps_live_entries_and_leaves_the_original_alone():
    rng = np.random.default_rng(0)
    x = rng.standard_normal((600, 16)).astype(np.float32)
    x /= np.linalg.norm(x, axis=1, keepdims=True)
    ids = np.arange(600, dtype=np.int64) * 3 + 1
    index = create_index("hnsw:M=8,max_tombstone_ratio=0.1", 16)
    index.add(ids, x)
    index.remove(ids[::4])
    assert index.rebuild_needed()
    fresh = index.compacted(batch=100)  # several batches
    assert fresh.params == index.params and fresh.compactions == index.compactions + 1 == 1
    assert fresh.stats()["tombstones"] == 0 and not fresh.rebuild_needed()
    np.testing.assert_array_equal(np.sort(fresh.ids()), np.sort(index.ids()))
    assert index.stats()["tombstones"] == 150 and len(index) == 450  # untouched
    live = np.ones(600, dtype=bool)
    live[::4] = False
    want = exact_search(x[:50], ids[live], x[live], 5)
    np.testing.assert_array_equal(fresh.exact_search(x[:50], 5).ids, want.ids)
    got = fresh.search(x[:50], 5)
    assert not np.isin(got.ids, ids[::4]).any() and (got.ids >= 0).all()
    restored = deserialize_index("hnsw", 16, fresh.serialize())
    assert restored.stats()["compactions"] == 1


def test_writer_compacts_after_its_own_deletes(open_store, settings):
    store = open_store()
    c = store.create_collection("c", index=SPEC)
    c.upsert(docs(200))
    assert c.info().index_stats["compactions"] == 0
    gone = [f"d{i}" for i in range(0, 200, 6)]  # 34 of 200: 17% dead > 10%
    c.delete(gone)  # the writer's own apply; no catch_up has anything to replay
    stats = c.info().index_stats
    assert stats["compactions"] == 1 and stats["tombstones"] == 0 and not stats["rebuild_needed"]
    assert stats["vectors"] == 166
    np.testing.assert_array_equal(c.vectors.ids(), sql_ids(c))
    for ext in gone[:5]:  # each deleted document's own vector: its nearest neighbour was itself
        vector = c.encoder.encode([docs(200)[int(ext[1:])].text])[0]
        hits = search(c, vector=vector.tolist(), options=SearchOptions(k=10))
        assert len(hits) == 10 and not set(gone) & {h.id for h in hits}
    c.checkpoint()
    (report,) = check_store(store, "c")
    assert report.ok, report.problems
    store.close()
    reopened = open_store(settings).collection("c")
    assert reopened.vectors.loaded_from == "file"
    assert reopened.info().index_stats["compactions"] == 1 and reopened.info().index_stats["tombstones"] == 0


def test_upserts_that_replace_chunks_also_compact(open_store):
    c = open_store().create_collection("c", index=SPEC)
    c.upsert(docs(100))
    changed = [DocumentInput(id=d.id, text=d.text + " revised") for d in docs(100)[:20]]
    c.upsert(changed)  # 20 old chunks become tombstones in one apply
    stats = c.info().index_stats
    assert stats["compactions"] == 1 and stats["tombstones"] == 0 and stats["vectors"] == 100
    np.testing.assert_array_equal(c.vectors.ids(), sql_ids(c))


def test_unpersisted_compaction_is_safe_and_readers_compact_when_catching_up(open_store, make_settings):
    settings = make_settings(checkpoint_seconds=3600)  # the writer persists only when asked
    writer = open_store(settings).create_collection("c", index=SPEC)
    writer.upsert(docs(200))
    writer.checkpoint()
    reader = open_store(settings).collection("c")  # another process's view
    writer.delete([f"d{i}" for i in range(0, 200, 5)])
    assert writer.info().index_stats["compactions"] == 1
    stored = read_index_file(writer.vectors.path)
    assert stored is not None and stored.seq < writer.vectors.applied_seq  # the file predates the deletes
    # the reader replays the deletes from SQL, then compacts its own copy
    hits = search(reader, "word0 other0", options=SearchOptions(k=10))
    assert hits and not {h.id for h in hits} & {f"d{i}" for i in range(0, 200, 5)}
    stats = reader.info().index_stats
    assert stats["compactions"] == 1 and stats["tombstones"] == 0 and stats["vectors"] == 160
    # a crash now (nothing persisted since the deletes) loses nothing: a new process replays the old file
    fresh = open_store(settings).collection("c")
    assert fresh.vectors.loaded_from == "file"
    np.testing.assert_array_equal(fresh.vectors.ids(), sql_ids(writer))
    assert fresh.info().index_stats["compactions"] == 1  # replaying the deletes compacted it too


def test_changes_applied_while_compacting_are_replayed_onto_the_new_index(open_store, settings, monkeypatch):
    """Thread A compacts (building under the read lock); thread B catches up a delete made by another
    process meanwhile and is let in first, so A must replay B's change onto its new index from SQL."""
    writer = open_store().create_collection("c", index=SPEC)
    writer.upsert(docs(200))
    writer.checkpoint()
    reader = open_store(settings).collection("c")
    state, lock = reader.vectors, reader.vectors.lock
    writer.delete([f"d{i}" for i in range(0, 40)])  # 20% dead once the reader replays it
    writer.delete(["d100", "d101"])
    b_done = threading.Event()
    compacting = threading.current_thread()

    class LetBFirst:
        read = lock.read

        @staticmethod
        def write():
            if threading.current_thread() is compacting and not b_done.is_set():
                b_done.wait(10)  # B applies its change before A swaps its compacted index in
            return lock.write()

    hnsw_type = type(state.index)
    built = hnsw_type.compacted

    def compacted_while_b_catches_up(self, *args, **kwargs):
        b = threading.Thread(target=lambda: (state.catch_up(), b_done.set()))
        b.start()
        return built(self, *args, **kwargs)

    with lock.write(), state.sessions() as session, session.begin():  # A: the first delete only
        first = state.sql_seq(session) - 1
        state._replay_locked(session, state.applied_seq, first)
        state.applied_seq = first
    assert state.index.rebuild_needed()
    monkeypatch.setattr(state, "lock", LetBFirst)
    monkeypatch.setattr(hnsw_type, "compacted", compacted_while_b_catches_up)
    assert state.compact_if_needed()
    assert b_done.is_set()
    np.testing.assert_array_equal(state.ids(), sql_ids(writer))  # the second delete is not lost
    assert state.index.stats()["compactions"] == 1 and state.index.stats()["tombstones"] == 2
