"""`latent check`: verify the store's invariants and say exactly what is wrong."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from sqlalchemy import func, select

from latent.records import DocumentInput
from latent.store.byo import stored_content_hash
from latent.store.collection import Collection
from latent.store.indexfile import leftover_temp_files, read_index_file
from latent.store.models import ChunkRow, CollectionRow, DocumentRow
from latent.store.store import Store


@dataclass(slots=True)
class CheckReport:
    collection: str
    documents: int = 0
    chunks: int = 0
    vectors: int = 0
    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems


def check_collection(store: Store, collection: Collection) -> CheckReport:
    """SQL chunks and index vectors are the same set; counts, hashes, dimensions and files are sound."""
    report = CheckReport(collection.name)
    with store.sessions() as s:
        row = s.get(CollectionRow, collection.id)
        sql_seq = int(row.seq)
        chunk_ids = np.asarray(
            s.scalars(select(ChunkRow.id).where(ChunkRow.collection_id == collection.id)).all(), dtype=np.int64
        )
        bad_dims = s.scalar(
            select(func.count()).where(
                ChunkRow.collection_id == collection.id, func.length(ChunkRow.vector) != collection.dimension * 4
            )
        )
        counted = dict(
            s.execute(
                select(ChunkRow.document_id, func.count())
                .where(ChunkRow.collection_id == collection.id)
                .group_by(ChunkRow.document_id)
            ).all()
        )
        docs = s.execute(
            select(
                DocumentRow.id,
                DocumentRow.external_id,
                DocumentRow.title,
                DocumentRow.text,
                DocumentRow.content_hash,
                DocumentRow.chunk_count,
            ).where(DocumentRow.collection_id == collection.id)
        ).all()
    report.documents, report.chunks = len(docs), len(chunk_ids)
    if bad_dims:
        report.problems.append(f"{bad_dims} chunk vectors do not have dimension {collection.dimension}")
    for doc_id, ext, title, text, stored_hash, chunk_count in docs:
        actual = counted.get(doc_id, 0)
        if actual == 0:
            report.problems.append(f"document {ext!r} has no chunks")
        elif actual != chunk_count:
            report.problems.append(f"document {ext!r} records {chunk_count} chunks but has {actual}")
        text_hash = DocumentInput(id=ext, title=title, text=text).content_hash()
        dim = collection.dimension
        if stored_hash != text_hash and stored_hash != _precomputed_hash(store, doc_id, title, text, dim):
            report.problems.append(f"document {ext!r}: content hash does not match its text")

    stored = read_index_file(collection.vectors.path)
    if collection.vectors.path.exists() and stored is None:
        report.problems.append(f"index file {collection.vectors.path} is corrupt (it will be rebuilt on open)")
    elif stored is not None and stored.seq > sql_seq:
        report.problems.append(f"index file covers seq {stored.seq}, newer than SQL's {sql_seq}")
    collection.vectors.catch_up()
    index_ids = collection.vectors.ids()
    report.vectors = len(index_ids)
    sql_set = np.sort(chunk_ids)
    only_sql = np.setdiff1d(sql_set, index_ids)
    only_index = np.setdiff1d(index_ids, sql_set)
    if len(index_ids) != len(np.unique(index_ids)):
        report.problems.append("the index holds duplicate vector ids")
    if len(only_sql):
        report.problems.append(f"{len(only_sql)} SQL chunks have no vector in the index (e.g. {only_sql[:5].tolist()})")
    if len(only_index):
        report.problems.append(f"{len(only_index)} index vectors have no SQL chunk (e.g. {only_index[:5].tolist()})")
    for tmp in leftover_temp_files(collection.vectors.path.parent):
        if tmp.name.startswith(f".{collection.vectors.path.name}."):
            report.problems.append(f"leftover temporary file {tmp}")
    return report


def _precomputed_hash(store: Store, document_id: int, title: str, text: str, dimension: int) -> str:
    """The hash of a document written from given vectors (bring-your-own or a Parquet re-import)."""
    with store.sessions() as s:
        rows = s.execute(
            select(ChunkRow.char_start, ChunkRow.char_end, ChunkRow.vector)
            .where(ChunkRow.document_id == document_id)
            .order_by(ChunkRow.ordinal)
        ).all()
    return stored_content_hash(title, text, [tuple(r) for r in rows], dimension)


def check_store(store: Store, name: str | None = None) -> list[CheckReport]:
    names = [name] if name else [c.name for c in store.list_collections()]
    return [check_collection(store, store.collection(n)) for n in names]
