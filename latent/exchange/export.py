"""Write a collection to a Parquet file, streamed: one row group per page of documents, never all of it in memory."""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from sqlalchemy import Connection, Engine, select

from latent import __version__
from latent.errors import InvalidInput
from latent.exchange.schema import ExportInfo, arrow, export_schema, text_hash
from latent.store.collection import Collection
from latent.store.models import ChunkRow, DocumentRow
from latent.store.vectors import decode_vectors

BATCH_DOCS = 1000
Progress = Callable[[int], None]  # documents written so far


@dataclass(slots=True)
class ExportSummary:
    collection: str
    path: str
    documents: int = 0
    chunks: int = 0
    row_groups: int = 0
    bytes: int = 0
    seconds: float = 0.0

    @property
    def docs_per_second(self) -> float:
        return self.documents / self.seconds if self.seconds else 0.0

    def as_dict(self) -> dict[str, Any]:
        out = {k: getattr(self, k) for k in self.__slots__}
        out["docs_per_second"] = round(self.docs_per_second, 1)
        return out


def export_info(collection: Collection) -> ExportInfo:
    return ExportInfo(
        collection=collection.name,
        model=collection.model,
        backend=collection.backend,
        dimension=collection.dimension,
        metric=collection.metric,
        chunk_tokens=collection.chunk_tokens,
        chunk_overlap=collection.chunk_overlap,
        version=__version__,
    )


def export_collection(
    collection: Collection,
    path: str | Path,
    *,
    batch_docs: int = BATCH_DOCS,
    compression: str = "zstd",
    progress: Progress | None = None,
) -> ExportSummary:
    """Every document of `collection` with its chunk spans and vectors, in insertion order, into `path`.

    Pages through SQL by row id inside one read transaction, so the file is one snapshot even while
    others write; each page becomes one row group. The file is written next to `path` and renamed into
    place at the end, so a failed export never leaves a truncated file under the requested name.
    """
    if not 1 <= batch_docs <= 100_000:
        raise InvalidInput("batch_docs must be between 1 and 100000", details={"batch_docs": batch_docs})
    pq = _parquet()
    target = Path(path)
    if target.is_dir():
        raise InvalidInput(f"{target} is a directory: give a file name", code="invalid_output")
    if not target.parent.is_dir():
        raise InvalidInput(f"no such directory: {target.parent}", code="invalid_output")
    info = export_info(collection)
    schema = export_schema(info)
    summary = ExportSummary(collection.name, str(target))
    partial = target.with_name(f".{target.name}.{os.getpid()}.partial")
    start = time.perf_counter()
    try:
        with pq.ParquetWriter(partial, schema, compression=compression) as writer, _snapshot(collection.engine) as conn:
            last_id = -1
            while True:
                docs = conn.execute(_page(collection.id, last_id, batch_docs)).all()
                if not docs:
                    break
                last_id = docs[-1].id
                chunks = conn.execute(_chunks([d.id for d in docs])).all()
                writer.write_table(_table(schema, info.dimension, docs, chunks))
                summary.documents += len(docs)
                summary.chunks += len(chunks)
                summary.row_groups += 1
                if progress is not None:
                    progress(summary.documents)
        os.replace(partial, target)
    finally:
        partial.unlink(missing_ok=True)
    summary.seconds = time.perf_counter() - start
    summary.bytes = target.stat().st_size
    return summary


@contextmanager
def _snapshot(engine: Engine) -> Iterator[Connection]:
    """One connection that reads a single snapshot for the whole export while writers go on.

    pysqlite begins no transaction before a SELECT, so without the explicit BEGIN every page would read
    the newest data, and a document rewritten meanwhile (a new row id) could be exported twice.
    """
    with engine.connect() as conn:
        if engine.dialect.name == "sqlite":
            conn.exec_driver_sql("BEGIN")
        else:
            conn.execution_options(isolation_level="REPEATABLE READ")
        try:
            yield conn
        finally:
            conn.rollback()


def _parquet() -> Any:
    arrow()  # the one clear error when pyarrow is missing
    import pyarrow.parquet as pq

    return pq


def _page(collection_id: int, after: int, limit: int) -> Any:
    return (
        select(
            DocumentRow.id,
            DocumentRow.external_id,
            DocumentRow.title,
            DocumentRow.text,
            DocumentRow.metadata_.label("metadata_"),
            DocumentRow.content_hash,
            DocumentRow.created_at,
            DocumentRow.updated_at,
        )
        .where(DocumentRow.collection_id == collection_id, DocumentRow.id > after)
        .order_by(DocumentRow.id)
        .limit(limit)
    )


def _chunks(document_ids: list[int]) -> Any:
    return (
        select(ChunkRow.document_id, ChunkRow.char_start, ChunkRow.char_end, ChunkRow.vector)
        .where(ChunkRow.document_id.in_(document_ids))
        .order_by(ChunkRow.document_id, ChunkRow.ordinal)
    )


def _table(schema: Any, dimension: int, docs: Sequence[Any], chunks: Sequence[Any]) -> Any:
    """One row group: the documents' columns and, per document, its chunks' spans and vectors."""
    pa = arrow()
    counts = dict.fromkeys((d.id for d in docs), 0)
    for c in chunks:
        counts[c.document_id] += 1
    offsets = pa.array(np.concatenate([[0], np.cumsum(list(counts.values()))]).astype(np.int32))
    vectors = decode_vectors([c.vector for c in chunks], dimension).reshape(-1)
    spans = pa.StructArray.from_arrays(
        [pa.array([c.char_start for c in chunks], pa.int32()), pa.array([c.char_end for c in chunks], pa.int32())],
        names=["char_start", "char_end"],
    )
    fixed = pa.FixedSizeListArray.from_arrays(pa.array(vectors, pa.float32()), dimension)
    columns = {
        "id": [d.external_id for d in docs],
        "title": [d.title for d in docs],
        "text": [d.text for d in docs],
        "metadata": [json.dumps(d.metadata_ or {}, ensure_ascii=False) for d in docs],
        "chunks": pa.ListArray.from_arrays(offsets, spans),
        "vectors": pa.ListArray.from_arrays(offsets, fixed),
        "content_hash": [d.content_hash for d in docs],
        "text_hash": [text_hash(d.title, d.text) for d in docs],
        "created_at": [d.created_at for d in docs],
        "updated_at": [d.updated_at for d in docs],
    }
    pairs = zip(columns.values(), schema, strict=True)
    arrays = [c if isinstance(c, pa.Array) else pa.array(c, f.type) for c, f in pairs]
    return pa.Table.from_arrays(arrays, schema=schema)
