"""Read documents back from Parquet, streamed by row group: Latent's own exports (with their chunk vectors)
and any Parquet file with id/text/title (and metadata) columns, mapped like the JSONL and CSV sources."""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace
from datetime import date, datetime, time
from decimal import Decimal
from pathlib import Path
from typing import Any

import numpy as np

from latent.errors import InvalidInput
from latent.exchange.schema import FORMAT_COLUMNS, VECTOR_COLUMNS, ExportInfo, arrow, text_hash
from latent.records import DocumentInput, PrecomputedChunk

BATCH_ROWS = 1000
ToDocument = Callable[[dict[str, Any], str], DocumentInput]  # (record, fallback id) -> document
Row = tuple[str, DocumentInput | InvalidInput]  # ("file:row", the document or why the row was refused)


@dataclass(slots=True)
class ReadCounts:
    """How the rows read so far were taken: with their stored vectors or to be embedded."""

    with_vectors: int = 0
    to_embed: int = 0
    stale_vectors: int = 0  # title or text edited after the export: the file's vectors no longer fit


class ParquetDocuments:
    """One Parquet file as documents. Opening reads only the footer; a file that is not Parquet (or is
    truncated) is an InvalidInput `invalid_parquet` here, before anything is indexed."""

    def __init__(self, path: str | Path, batch_rows: int = BATCH_ROWS):
        arrow()
        import pyarrow.parquet as pq

        self.path = Path(path)
        self.batch_rows = batch_rows
        try:
            self.file = pq.ParquetFile(self.path)
        except (arrow().ArrowException, OSError) as exc:  # ArrowInvalid for a damaged footer, OSError to read
            raise _invalid(self.path, exc) from None
        self.schema = self.file.schema_arrow
        self.info = ExportInfo.from_metadata(self.schema.metadata)
        self.columns = list(self.schema.names)
        self.counts = ReadCounts()

    @property
    def rows(self) -> int:
        return int(self.file.metadata.num_rows)

    @property
    def has_vectors(self) -> bool:
        return self.info is not None and {"chunks", "vectors"} <= set(self.columns)

    def reusable_by(self, model: str, backend: str, dimension: int) -> bool:
        """True when a collection of this encoder may store the file's vectors as they are."""
        info = self.info
        if not self.has_vectors or info is None:
            return False
        return (info.model, info.backend, info.dimension) == (model, backend, dimension)

    def documents(self, to_document: ToDocument, reuse_vectors: bool = False) -> Iterator[Row]:
        """Each row as a document (or the reason it was refused), streamed one row group at a time.

        Args:
            to_document: maps a record (column name -> value) to a document, e.g. a FieldMap's.
            reuse_vectors: attach the stored chunks and vectors (`reusable_by` said so), so the document
                is stored without embedding; rows whose title or text changed since the export embed.
        """
        vectors = reuse_vectors and self.has_vectors
        skip = set(FORMAT_COLUMNS) if self.info is not None else set()
        wanted = [c for c in self.columns if c not in skip and not c.startswith("__index_level_")]
        if vectors:
            wanted += [c for c in VECTOR_COLUMNS if c in self.columns]
        row = 0
        try:
            for batch in self.file.iter_batches(batch_size=self.batch_rows, columns=wanted):
                chunks = _batch_chunks(batch, self.info.dimension) if vectors and self.info else None
                plain = batch.drop_columns([c for c in VECTOR_COLUMNS if c in wanted]) if vectors else batch
                for i, record in enumerate(plain.to_pylist()):
                    row += 1
                    where = f"{self.path}:{row}"
                    try:
                        doc = self._document(record, to_document, row)
                        if chunks is not None:
                            doc = self._with_vectors(doc, chunks, i)
                        else:
                            self.counts.to_embed += 1
                    except InvalidInput as exc:
                        yield where, exc
                        continue
                    yield where, doc
        except (arrow().ArrowException, OSError) as exc:  # a damaged page or column chunk, found while streaming
            raise _invalid(self.path, exc, row) from None

    def _document(self, record: dict[str, Any], to_document: ToDocument, row: int) -> DocumentInput:
        meta = record.get("metadata")
        if meta is None:
            record.pop("metadata", None)
        elif isinstance(meta, str) and meta.strip().startswith("{"):
            try:
                record["metadata"] = json.loads(meta)
            except ValueError as exc:
                raise InvalidInput(f"column 'metadata' is not valid JSON: {exc}") from None
        doc = to_document({k: _jsonable(v) for k, v in record.items()}, f"{self.path.stem}:{row}")
        nested = doc.metadata.get("metadata")
        if isinstance(nested, dict):  # a metadata column holds the metadata itself, not a field named so
            doc.metadata = {**{k: v for k, v in doc.metadata.items() if k != "metadata"}, **nested}
        return doc

    def _with_vectors(self, doc: DocumentInput, chunks: _Chunks, i: int) -> DocumentInput:
        """The document carrying its stored chunks, unless its title or text changed since the export."""
        lo, hi = int(chunks.offsets[i]), int(chunks.offsets[i + 1])
        if chunks.missing[i] or hi == lo:
            self.counts.to_embed += 1
            return doc
        starts, ends = chunks.starts[lo:hi], chunks.ends[lo:hi]
        fits = bool((starts >= 0).all() and (ends >= starts).all() and (ends <= len(doc.text)).all())
        fits = fits and bool((np.diff(starts) >= 0).all())
        own_vectors = self.info is not None and self.info.model == ""  # no encoder: the vectors are the data
        if not fits or (not own_vectors and _edited(doc, chunks, i)):
            if own_vectors:
                raise InvalidInput(
                    f"document {doc.id!r}: its text changed after the export and its chunk spans no longer fit it",
                    code="invalid_chunks",
                )
            self.counts.stale_vectors += 1
            self.counts.to_embed += 1  # the stored vectors describe the old text
            return doc
        precomputed = tuple(
            PrecomputedChunk(int(s), int(e), v) for s, e, v in zip(starts, ends, chunks.vectors[lo:hi], strict=True)
        )
        self.counts.with_vectors += 1
        return replace(doc, precomputed=precomputed)


def _edited(doc: DocumentInput, chunks: _Chunks, i: int) -> bool:
    """Whether the row's title or text differ from the exported ones (by the export's text hash; a file
    without one falls back to the content hash, which may include the vectors as they were stored)."""
    if chunks.text_hashes is not None:
        return chunks.text_hashes[i] != text_hash(doc.title, doc.text)
    return chunks.hashes[i] not in (doc.content_hash(), None)


@dataclass(slots=True)
class _Chunks:
    offsets: np.ndarray
    starts: np.ndarray
    ends: np.ndarray
    vectors: np.ndarray
    hashes: list[str | None]
    text_hashes: list[str | None] | None  # None: the file has no text_hash column
    missing: np.ndarray  # rows whose chunks or vectors are null


def _batch_chunks(batch: Any, dimension: int) -> _Chunks:
    """The batch's spans and vectors as flat NumPy arrays (no Python float per value)."""
    pa = arrow()
    n = batch.num_rows
    spans, vectors = batch.column("chunks"), batch.column("vectors")
    missing = (spans.is_null().to_numpy(zero_copy_only=False)) | (vectors.is_null().to_numpy(zero_copy_only=False))
    span_offsets = _offsets(spans)
    offsets = _offsets(vectors)
    if not np.array_equal(span_offsets, offsets):
        raise InvalidInput("columns 'chunks' and 'vectors' disagree on how many chunks a row has")
    flat_spans = spans.flatten()
    flat = vectors.flatten().flatten().to_numpy(zero_copy_only=False)
    matrix = np.array(flat, dtype=np.float32).reshape(-1, dimension)  # a writable copy
    if not isinstance(flat_spans, pa.StructArray):
        raise InvalidInput("column 'chunks' must hold {char_start, char_end} structs")
    return _Chunks(
        offsets=offsets,
        starts=flat_spans.field("char_start").to_numpy(zero_copy_only=False),
        ends=flat_spans.field("char_end").to_numpy(zero_copy_only=False),
        vectors=matrix,
        hashes=batch.column("content_hash").to_pylist() if "content_hash" in batch.schema.names else [None] * n,
        text_hashes=batch.column("text_hash").to_pylist() if "text_hash" in batch.schema.names else None,
        missing=missing,
    )


def _offsets(array: Any) -> np.ndarray:
    """Offsets from 0 into the array's flattened values (a null row has as many values as its offsets say)."""
    offsets = array.offsets.to_numpy()
    return (offsets - offsets[0]).astype(np.int64)


def _jsonable(value: Any) -> Any:
    """A Parquet value as JSON can store it: timestamps and dates as ISO text, decimals as floats, NaN as null."""
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        if value and all(isinstance(v, tuple) and len(v) == 2 for v in value):  # a Parquet map: key/value pairs
            return {str(k): _jsonable(v) for k, v in value}
        return [_jsonable(v) for v in value]
    if isinstance(value, datetime | date | time):
        return value.isoformat()
    if isinstance(value, Decimal):
        return float(value)
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, bytes):
        return value.decode("utf-8", errors="replace")
    return value


def _invalid(path: Path, exc: Exception, row: int | None = None) -> InvalidInput:
    where = f" after row {row}" if row else ""
    return InvalidInput(
        f"{path} is not a readable Parquet file{where}: {exc}",
        code="invalid_parquet",
        details={"path": str(path), **({"row": row} if row else {})},
    )
