"""Store: upsert, hash-skip, replace, delete, drop, reopen from file, stale-file replay, refusals."""

from __future__ import annotations

import os
import shutil

import numpy as np
import pytest
from helpers.cli import invoke
from helpers.corpora import topical
from sqlalchemy import delete, select

from latent.errors import CollectionNotFound, Conflict, DimensionMismatch, DocumentNotFound, InvalidInput
from latent.records import DocumentInput, PreparedDocument
from latent.search import SearchOptions, search
from latent.store.check import check_store
from latent.store.indexfile import read_index_file
from latent.store.models import ChunkRow, CollectionRow, VectorDeletionRow


def sql_chunk_ids(collection) -> np.ndarray:
    with collection.sessions() as s:
        ids = s.scalars(select(ChunkRow.id).where(ChunkRow.collection_id == collection.id)).all()
    return np.sort(np.asarray(ids, dtype=np.int64))


def doc_chunk_ids(collection, external_id: str) -> list[int]:
    from latent.store.models import DocumentRow

    with collection.sessions() as s:
        return list(
            s.scalars(
                select(ChunkRow.id)
                .join(DocumentRow, DocumentRow.id == ChunkRow.document_id)
                .where(DocumentRow.collection_id == collection.id, DocumentRow.external_id == external_id)
            ).all()
        )


def assert_consistent(store, collection) -> None:
    """Every SQL chunk has exactly one index vector and the reverse; `check` agrees."""
    index_ids = collection.vectors.ids()
    assert len(index_ids) == len(np.unique(index_ids))
    np.testing.assert_array_equal(index_ids, sql_chunk_ids(collection))
    reports = check_store(store, collection.name)
    assert all(r.ok for r in reports), [r.problems for r in reports]


def ranked(collection, query: str, k: int = 5, **kw) -> list[str]:
    return [h.id for h in search(collection, query, options=SearchOptions(k=k, **kw))]


@pytest.fixture
def papers(store):
    collection = store.create_collection("papers")
    collection.upsert(topical(24))
    return collection


def test_upsert_then_unchanged_content_is_skipped(store, papers):
    before = sql_chunk_ids(papers)
    result = papers.upsert(topical(24))
    assert (result.upserted, result.unchanged, result.chunks_added, result.chunks_removed) == (0, 24, 0, 0)
    np.testing.assert_array_equal(sql_chunk_ids(papers), before)  # nothing re-embedded
    assert papers.count() == 24
    assert_consistent(store, papers)


def test_changed_content_replaces_its_chunks(store, papers):
    old_ids = doc_chunk_ids(papers, "doc-3")
    result = papers.upsert([DocumentInput(id="doc-3", title="new title", text="zebra giraffe savanna")])
    assert (result.upserted, result.chunks_removed, result.chunks_added) == (1, len(old_ids), 1)
    new_ids = doc_chunk_ids(papers, "doc-3")
    index_ids = papers.vectors.ids()
    assert not np.isin(old_ids, index_ids).any()  # old vector ids are gone from the index
    assert np.isin(new_ids, index_ids).all() and not set(new_ids) & set(old_ids)
    assert papers.get("doc-3").text == "zebra giraffe savanna"
    assert ranked(papers, "zebra giraffe", k=1) == ["doc-3"]
    with papers.sessions() as s:
        logged = set(s.scalars(select(VectorDeletionRow.vector_id)).all())
    assert set(old_ids) <= logged  # recorded so a stale index file can be replayed forward
    assert_consistent(store, papers)


def test_metadata_only_update_keeps_vectors(store, papers):
    before_ids = doc_chunk_ids(papers, "doc-5")
    doc = topical(24)[5]
    doc.metadata = {"topic": "changed", "year": 1999}
    result = papers.upsert([doc])
    assert (result.upserted, result.metadata_updated, result.unchanged, result.chunks_added) == (0, 1, 0, 0)
    assert doc_chunk_ids(papers, "doc-5") == before_ids
    record = papers.get("doc-5")
    assert record.metadata == {"topic": "changed", "year": 1999}
    assert record.updated_at >= record.created_at
    assert [r.id for r in papers.list_documents(filter={"topic": "changed"})[0]] == ["doc-5"]
    assert_consistent(store, papers)


def test_delete_removes_rows_and_vectors(store, papers):
    gone = doc_chunk_ids(papers, "doc-1") + doc_chunk_ids(papers, "doc-2")
    assert papers.delete(["doc-1", "doc-2", "no-such-doc"]) == 2
    assert papers.count() == 22
    assert not np.isin(gone, papers.vectors.ids()).any()
    with pytest.raises(DocumentNotFound):
        papers.get("doc-1")
    assert "doc-1" not in ranked(papers, "quantum particle energy field wave number 1", k=24)
    with pytest.raises(DocumentNotFound) as info:
        papers.delete(["nope"], missing_ok=False)
    assert info.value.details == {"ids": ["nope"], "collection": "papers"}
    assert papers.delete_where({"topic": "biology"}) == 6
    assert papers.count() == 16
    with pytest.raises(InvalidInput):
        papers.delete_where({})
    assert_consistent(store, papers)


def test_drop_collection_removes_rows_and_files_and_name_can_be_reused(store, papers):
    path = papers.vectors.path
    papers.checkpoint()
    assert path.exists()
    store.drop_collection("papers")
    assert not path.exists()
    with pytest.raises(CollectionNotFound):
        store.collection("papers")
    assert [c.name for c in store.list_collections()] == []
    with pytest.raises(CollectionNotFound):
        store.drop_collection("papers")
    fresh = store.create_collection("papers")
    assert fresh.count() == 0 and len(fresh.vectors.index) == 0
    fresh.upsert(topical(3))
    assert fresh.count() == 3
    assert_consistent(store, fresh)


def test_reopen_loads_the_index_from_its_file(settings, open_store, papers):
    expected = ranked(papers, "clinical trial dose", k=8)
    papers.checkpoint()
    reopened = open_store(settings).collection("papers")
    assert reopened.vectors.loaded_from == "file"
    assert ranked(reopened, "clinical trial dose", k=8) == expected


def test_closing_persists_what_the_checkpoint_interval_held_back(make_settings, open_store):
    s = make_settings(checkpoint_seconds=3600)
    first = open_store(s)
    collection = first.create_collection("c")
    collection.upsert(topical(6))
    assert read_index_file(collection.vectors.path) is None  # not yet written: interval not reached
    first.close()
    stored = read_index_file(collection.vectors.path)
    with first.sessions() as sess:
        assert stored is not None and stored.seq == sess.scalar(select(CollectionRow.seq))


def _damage(path, how: str, old_copy) -> None:
    if how == "deleted":
        path.unlink()
    elif how == "truncated":
        path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])
    elif how == "corrupted":
        data = bytearray(path.read_bytes())
        data[-20:] = bytes(20)  # payload no longer matches its checksum
        path.write_bytes(bytes(data))
    elif how == "garbage":
        path.write_bytes(b"not an index at all")
    elif how == "older-seq":
        shutil.copyfile(old_copy, path)


@pytest.mark.parametrize("how", ["deleted", "truncated", "corrupted", "garbage", "older-seq"])
def test_stale_or_broken_index_file_is_rebuilt_or_replayed(settings, open_store, capsys, monkeypatch, tmp_path, how):
    store = open_store(settings)
    collection = store.create_collection("papers")
    collection.upsert(topical(12))
    collection.checkpoint()
    old_copy = tmp_path / "old.faiss"
    shutil.copyfile(collection.vectors.path, old_copy)
    old_seq = read_index_file(old_copy).seq
    # Later writes the old file does not cover: inserts, a replacement and deletes.
    collection.upsert(topical(20)[12:])
    collection.upsert([DocumentInput(id="doc-0", text="zebra giraffe savanna")])
    collection.delete(["doc-4", "doc-15"])
    collection.checkpoint()
    expected = ranked(collection, "molecule reaction bond", k=10)
    store.close()

    _damage(collection.vectors.path, how, old_copy)
    reopened = open_store(settings)
    fresh = reopened.collection("papers")
    if how == "older-seq":
        assert fresh.vectors.loaded_from == "file" and read_index_file(fresh.vectors.path).seq == old_seq
    else:
        assert fresh.vectors.loaded_from == "rebuilt"
    assert fresh.count() == 18
    assert_consistent(reopened, fresh)
    assert ranked(fresh, "molecule reaction bond", k=10) == expected
    assert ranked(fresh, "zebra giraffe", k=1) == ["doc-0"]
    reopened.close()
    result = invoke(capsys, monkeypatch, "--home", settings.home, "--model", "fake", "check")
    assert result.code == 0, result.out + result.err


def test_leftover_temp_file_of_a_dead_writer_is_removed_on_open(settings, open_store, papers):
    papers.checkpoint()
    index_dir = papers.vectors.path.parent
    dead = index_dir / f".{papers.vectors.path.name}.999999999.tmp"  # no such pid
    dead.write_bytes(b"half-written")
    reopened = open_store(settings)
    reopened.collection("papers")
    assert not dead.exists()
    assert all(r.ok for r in check_store(reopened))


def test_check_reports_sql_and_index_disagreeing(store, papers, capsys, monkeypatch, settings):
    victim = doc_chunk_ids(papers, "doc-7")
    with papers.sessions() as s, s.begin():  # bypass the store: a chunk vanishes from SQL only
        s.execute(delete(ChunkRow).where(ChunkRow.id.in_(victim)))
    report = check_store(store, "papers")[0]
    assert not report.ok
    text = " ".join(report.problems)
    assert "'doc-7' has no chunks" in text and "index vectors have no SQL chunk" in text
    store.close()
    result = invoke(capsys, monkeypatch, "--home", settings.home, "--model", "fake", "check", "--json")
    assert result.code == 1
    assert result.json()[0]["ok"] is False


def test_a_second_store_sees_committed_writes(settings, open_store, papers):
    reader = open_store(settings).collection("papers")
    papers.upsert([DocumentInput(id="late", text="zebra giraffe savanna")])
    assert ranked(reader, "zebra giraffe", k=1) == ["late"]  # replayed from SQL on the next search
    papers.delete(["late"])
    assert "late" not in ranked(reader, "zebra giraffe", k=24)


def test_model_mismatch_is_refused(store, papers):
    with pytest.raises(Conflict) as info:
        store.create_collection("papers", model="fake:32", exist_ok=True)
    assert info.value.code == "model_mismatch"
    with pytest.raises(Conflict) as info:
        store.create_collection("papers")
    assert info.value.code == "collection_exists"
    assert store.create_collection("papers", model="fake", exist_ok=True) is papers


def test_wrong_dimension_vectors_are_refused(store, papers):
    before = sql_chunk_ids(papers)
    doc = DocumentInput(id="bad", text="whatever")
    bad = PreparedDocument(doc, doc.content_hash(), [(0, 8, 1)], np.ones((1, 32), dtype=np.float32))
    with pytest.raises(DimensionMismatch) as info:
        papers.commit([bad])
    assert info.value.details == {"expected": 64, "got": 32}
    with pytest.raises(DimensionMismatch):
        search(papers, vector=[0.1] * 32)
    with pytest.raises(DimensionMismatch):
        papers.vectors.index.add(np.array([10**9]), np.ones((1, 32), dtype=np.float32))
    np.testing.assert_array_equal(sql_chunk_ids(papers), before)
    assert_consistent(store, papers)


@pytest.mark.parametrize(
    ("docs", "code"),
    [
        ([DocumentInput(id="", text="x")], "invalid_document"),
        ([DocumentInput(id="a", text="   ", title="")], "invalid_document"),
        ([DocumentInput(id="a", text="x", metadata=[1])], "invalid_document"),  # type: ignore[arg-type]
        ([DocumentInput(id="x" * 600, text="x")], "invalid_document"),
        ([DocumentInput(id="a", text="x"), DocumentInput(id="a", text="y")], "duplicate_ids"),
    ],
)
def test_invalid_documents_are_refused_and_nothing_is_written(store, papers, docs, code):
    with pytest.raises(InvalidInput) as info:
        papers.upsert(docs)
    assert info.value.code == code
    assert papers.count() == 24


@pytest.mark.parametrize("name", ["", "has space", "a/b", "-leading", "x" * 200])
def test_invalid_collection_names(store, name):
    with pytest.raises(InvalidInput) as info:
        store.create_collection(name)
    assert info.value.code == "invalid_collection_name"


def test_unknown_collection(store):
    with pytest.raises(CollectionNotFound) as info:
        store.collection("nope")
    assert info.value.code == "collection_not_found"


def test_list_collections_reports_sizes(store, papers):
    store.create_collection("empty")
    infos = {c.name: c for c in store.list_collections()}
    assert (infos["papers"].documents, infos["papers"].chunks, infos["papers"].dimension) == (24, 24, 64)
    assert (infos["empty"].documents, infos["empty"].chunks, infos["empty"].model) == (0, 0, "fake")


def test_sqlite_runs_in_wal_mode_with_foreign_keys(store):
    with store.engine.connect() as conn:
        assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
        assert conn.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
    assert os.path.exists(store.settings.home / "latent.db")


def test_search_catching_up_mid_write_does_not_duplicate_vectors(store, papers, monkeypatch):
    """A search thread may replay a write from SQL between its commit and the writer's own apply."""
    original = papers.vectors.apply

    def racing_apply(*args, **kwargs):
        papers.vectors.catch_up()  # what a concurrent search does
        return original(*args, **kwargs)

    monkeypatch.setattr(papers.vectors, "apply", racing_apply)
    papers.upsert([DocumentInput(id="new", text="zebra giraffe"), DocumentInput(id="doc-1", text="changed")])
    papers.delete(["doc-2"])
    assert_consistent(store, papers)
    assert ranked(papers, "zebra giraffe", k=1) == ["new"]


def test_every_stored_timestamp_comes_back_aware_utc(store, papers):
    """SQLite keeps no zone: the column type (store/base.UTCDateTime) gives every read back its UTC."""
    record = papers.get(topical(24)[0].id)
    moments = [record.created_at, record.updated_at, store.list_collections()[0].created_at, papers.created_at]
    assert all(m.utcoffset() is not None and m.utcoffset().total_seconds() == 0 for m in moments)
