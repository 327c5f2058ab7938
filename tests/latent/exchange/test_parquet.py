"""latent.exchange on its own: the export streams row groups and names its encoder; the reader streams them
back, decides when vectors are reusable, and turns any damage into one InvalidInput `invalid_parquet`."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from helpers.corpora import topical
from sqlalchemy import select

from latent import __version__
from latent.errors import InvalidInput
from latent.exchange import ExportInfo, ParquetDocuments, export_collection
from latent.records import DocumentInput
from latent.store.models import ChunkRow, DocumentRow


def _to_document(record: dict, fallback: str) -> DocumentInput:
    """The simplest mapping (the CLI passes a FieldMap's): id, title, text, the rest is metadata."""
    rest = {k: v for k, v in record.items() if k not in ("id", "title", "text")}
    return DocumentInput(id=str(record["id"]), title=record.get("title") or "", text=record["text"], metadata=rest)


@pytest.fixture
def exported(store, tmp_path):
    coll = store.create_collection("papers")
    coll.upsert(topical(30))
    path = tmp_path / "papers.parquet"
    seen: list[int] = []
    summary = export_collection(coll, path, batch_docs=7, progress=seen.append)
    return coll, path, summary, seen


def test_export_streams_one_row_group_per_page(exported):
    coll, path, summary, seen = exported
    assert (summary.documents, summary.row_groups) == (30, 5) and seen == [7, 14, 21, 28, 30]
    meta = pq.ParquetFile(path).metadata
    assert meta.num_row_groups == 5 and meta.num_rows == 30 and summary.bytes == path.stat().st_size
    info = ExportInfo.from_metadata(pq.read_schema(path).metadata)
    assert info == ExportInfo("papers", "fake", coll.backend, 64, "cosine", coll.chunk_tokens, 32, __version__)
    assert not list(path.parent.glob(".*partial"))


def test_reader_streams_documents_with_their_vectors(exported, tmp_path):
    coll, path, _, _ = exported
    reader = ParquetDocuments(path, batch_rows=4)
    assert reader.rows == 30 and reader.has_vectors
    assert reader.reusable_by("fake", coll.backend, 64)
    assert not reader.reusable_by("fake:32", coll.backend, 32) and not reader.reusable_by("fake", "onnx", 64)
    rows = list(reader.documents(_to_document, reuse_vectors=True))
    assert [doc.id for _, doc in rows] == [d.id for d in topical(30)]
    assert rows[0][0] == f"{path}:1" and reader.counts.with_vectors == 30
    where, doc = rows[5]
    assert doc.metadata == topical(30)[5].metadata  # the JSON metadata column is the metadata itself
    with coll.sessions() as s:
        (blob,) = s.scalars(
            select(ChunkRow.vector)
            .join(DocumentRow)
            .where(DocumentRow.external_id == doc.id, ChunkRow.collection_id == coll.id)
        ).all()
    stored = np.frombuffer(blob, dtype=np.float32)
    assert len(doc.precomputed) == 1 and doc.precomputed[0].char_start == 0
    np.testing.assert_array_equal(doc.precomputed[0].vector, stored)

    plain = list(ParquetDocuments(path).documents(_to_document))  # no reuse: the vectors are not even read
    assert all(d.precomputed is None for _, d in plain) and len(plain) == 30


def test_other_parquet_files_have_no_export_info(tmp_path):
    path = tmp_path / "plain.parquet"
    pq.write_table(pa.table({"id": ["a"], "text": ["hello"], "chunks": [1]}), path)
    reader = ParquetDocuments(path)
    assert reader.info is None and not reader.has_vectors and not reader.reusable_by("fake", "torch", 64)
    ((_, doc),) = reader.documents(_to_document, reuse_vectors=True)
    assert doc.metadata == {"chunks": 1}  # only an export's own columns are format columns
    assert ExportInfo.from_metadata({b"latent.model": b"fake", b"latent.dimension": b"x"}) is None


def test_damage_in_the_middle_is_found_while_streaming(exported, tmp_path):
    _, path, _, _ = exported
    meta = pq.ParquetFile(path).metadata
    third = meta.row_group(2).column(2)  # the text column of the third row group
    data = bytearray(path.read_bytes())
    start = third.data_page_offset
    data[start : start + 64] = b"\xff" * 64
    bad = tmp_path / "bad.parquet"
    bad.write_bytes(bytes(data))
    reader = ParquetDocuments(bad, batch_rows=7)  # the footer is sound: opening works
    read: list[str] = []
    with pytest.raises(InvalidInput) as caught:
        for _, doc in reader.documents(_to_document):
            read.append(doc.id)
    assert caught.value.code == "invalid_parquet" and len(read) == 14
    assert "after row 14" in caught.value.message and caught.value.details["row"] == 14


def test_export_refuses_a_bad_target(store, tmp_path):
    coll = store.create_collection("papers")
    coll.upsert(topical(3))
    with pytest.raises(InvalidInput, match="no such directory"):
        export_collection(coll, tmp_path / "missing" / "out.parquet")
    with pytest.raises(InvalidInput, match="is a directory"):
        export_collection(coll, tmp_path)
    with pytest.raises(InvalidInput, match="batch_docs"):
        export_collection(coll, tmp_path / "out.parquet", batch_docs=0)
    with pytest.raises(InvalidInput) as caught:
        ParquetDocuments(tmp_path / "nothing.parquet")
    assert caught.value.code == "invalid_parquet"


def test_export_is_one_snapshot_while_others_write(store, tmp_path):
    """A document written (or rewritten) after the export began is not in the file, and none is there twice."""
    coll = store.create_collection("papers")
    coll.upsert(topical(30))
    changed = [DocumentInput(id="doc-29", title="rewritten", text="a new text about enzymes")]
    added = [DocumentInput(id="late", title="late", text="written during the export")]

    def write_meanwhile(done: int) -> None:
        if done == 7:
            coll.delete(["doc-0"])
            coll.upsert(changed + added)

    path = tmp_path / "papers.parquet"
    summary = export_collection(coll, path, batch_docs=7, progress=write_meanwhile)
    table = pq.read_table(path)
    ids = table.column("id").to_pylist()
    assert summary.documents == 30 and ids == [d.id for d in topical(30)]
    assert table.column("title").to_pylist()[29] == topical(30)[29].title  # as it was when the export began
    assert coll.count() == 30 and coll.get("doc-29").title == "rewritten"  # the writes did happen


@pytest.mark.postgres
def test_postgres_export_is_one_snapshot_too(make_settings, open_store, tmp_path, postgres_url):
    """PostgreSQL reads the export in one REPEATABLE READ transaction: the same guarantee as SQLite's."""
    store = open_store(make_settings(home=tmp_path / "pg", database_url=postgres_url))
    coll = store.create_collection("papers")
    coll.upsert(topical(20))

    def write_meanwhile(done: int) -> None:
        if done == 7:
            coll.upsert([DocumentInput(id="late", text="written during the export")])

    path = tmp_path / "papers.parquet"
    assert export_collection(coll, path, batch_docs=7, progress=write_meanwhile).documents == 20
    assert pq.read_table(path).column("id").to_pylist() == [d.id for d in topical(20)]
    rows = list(ParquetDocuments(path).documents(_to_document, reuse_vectors=True))
    assert all(len(doc.precomputed) == 1 for _, doc in rows)
