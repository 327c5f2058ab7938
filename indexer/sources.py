"""Document sources: JSONL (BEIR shape or mapped fields), CSV, text/markdown files, directories, stdin.

Every source streams: a 1 GB file is never held in memory. Malformed records become `Rejected` items
(with file and line) that the pipeline reports and skips, or raises on with --strict.
"""

from __future__ import annotations

import csv
import json
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from latent.errors import InvalidInput
from latent.exchange import ParquetDocuments
from latent.records import DocumentInput, PrecomputedChunk

TEXT_SUFFIXES = {".txt", ".md", ".markdown", ".rst"}
MAX_LINE_BYTES = 8 * 1024 * 1024


@dataclass(slots=True)
class Rejected:
    where: str  # "file:line"
    reason: str


@dataclass(slots=True)
class FieldMap:
    """How records map to documents; defaults follow BEIR (`_id`, `title`, `text`)."""

    id_field: str | None = None
    text_fields: list[str] = field(default_factory=list)
    title_field: str | None = None
    metadata_fields: list[str] | None = None  # None: every other field becomes metadata
    vector_field: str | None = None  # a field holding the document's own vector (a JSON list; CSV: its text)

    def to_document(self, record: dict[str, Any], fallback_id: str) -> DocumentInput:
        id_key = self.id_field or next((k for k in ("_id", "id", "doc_id") if k in record), None)
        doc_id = record.get(id_key) if id_key else fallback_id
        if doc_id is None or (isinstance(doc_id, str) and not doc_id.strip()):
            raise InvalidInput(f"record has no id field {id_key or '_id'!r}")
        text_keys = self.text_fields or ["text"]
        missing = [k for k in text_keys if k not in record]
        if len(missing) == len(text_keys) and not self.vector_field:
            raise InvalidInput(f"record has no text field ({', '.join(text_keys)})")
        parts = [record[k] for k in text_keys if k in record and record[k] is not None]
        if not all(isinstance(p, str) for p in parts):
            raise InvalidInput("text fields must be strings")
        text = "\n\n".join(p for p in parts if p)
        title_key = self.title_field or "title"
        title = record.get(title_key) or ""
        if not isinstance(title, str):
            title = str(title)
        used = {id_key, title_key, *text_keys, self.vector_field}
        if self.metadata_fields is None:
            metadata = {k: v for k, v in record.items() if k not in used}
        else:
            metadata = {k: record[k] for k in self.metadata_fields if k in record}
        precomputed = None
        if self.vector_field:  # one chunk covering the whole text, as the HTTP `vector` of a document
            precomputed = (
                PrecomputedChunk(0, len(text), read_vector(record.get(self.vector_field), self.vector_field)),
            )
        elif not text.strip() and not title.strip():
            raise InvalidInput("record has empty text")
        return DocumentInput(id=str(doc_id), text=text, title=title, metadata=metadata, precomputed=precomputed)


def read_vector(value: Any, name: str) -> np.ndarray:
    """A record's vector field: a JSON list of numbers (a CSV cell holds the list as text); a record
    without one, or with anything else, is rejected (its width is checked against the collection later)."""
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except ValueError as exc:
            raise InvalidInput(f"vector field {name!r} is not a JSON list: {exc}") from exc
    if (
        not isinstance(value, list)
        or not value
        or not all(isinstance(v, int | float) and not isinstance(v, bool) for v in value)
    ):
        raise InvalidInput(f"vector field {name!r} must be a non-empty list of numbers")
    vector = np.asarray(value, dtype=np.float32)
    if not np.isfinite(vector).all():
        raise InvalidInput(f"vector field {name!r} holds NaN or infinite values")
    return vector


Item = DocumentInput | Rejected


def iter_source(path: str, fields: FieldMap | None = None, fmt: str | None = None) -> Iterator[Item]:
    """Documents from a path (file or directory) or '-' for stdin; format from the suffix unless given.

    A missing or unsupported path raises InvalidInput here, before anything is read or created.
    """
    fields = fields or FieldMap()
    if path == "-":  # bytes, like files: bad UTF-8 and huge lines become reported skips, not crashes
        return _jsonl(sys.stdin.buffer, "<stdin>", fields)
    p = Path(path)
    if not p.exists():
        raise InvalidInput(f"no such file or directory: {path}", code="source_not_found", details={"path": path})
    if p.is_dir():
        return _directory(p, fields)
    kind = fmt or _format_of(p)
    if kind == "jsonl":
        return _jsonl_file(p, fields)
    if kind == "csv":
        return _csv(p, fields)
    if kind == "text":
        return _text_file(p, p.name)
    if kind == "parquet":  # read by latent.exchange, one row group at a time; a damaged file fails here
        return parquet_items(ParquetDocuments(p), fields)
    raise InvalidInput(
        f"unsupported file type {p.suffix!r}: use .jsonl, .csv, .parquet, .txt or .md",
        code="unsupported_source",
        details={"path": path},
    )


def _jsonl_file(p: Path, fields: FieldMap) -> Iterator[Item]:
    with open(p, "rb") as raw:
        yield from _jsonl(raw, str(p), fields)


def _format_of(p: Path) -> str:
    suffix = p.suffix.lower()
    if suffix in (".jsonl", ".ndjson", ".json"):
        return "jsonl"
    if suffix in (".csv", ".tsv"):
        return "csv"
    if suffix in TEXT_SUFFIXES:
        return "text"
    if suffix == ".parquet":
        return "parquet"
    return "unknown"


def parquet_items(reader: ParquetDocuments, fields: FieldMap, reuse_vectors: bool = False) -> Iterator[Item]:
    """A Parquet file's rows mapped like JSONL records (a `metadata` column holds the metadata itself);
    `reuse_vectors` carries a Latent export's chunk vectors along (see indexer/cli_export.py)."""
    for where, doc in reader.documents(fields.to_document, reuse_vectors):
        yield Rejected(where, doc.message) if isinstance(doc, InvalidInput) else doc


def _jsonl(stream: Any, name: str, fields: FieldMap) -> Iterator[Item]:
    for lineno, raw in enumerate(stream, start=1):
        where = f"{name}:{lineno}"
        if isinstance(raw, bytes):
            if len(raw) > MAX_LINE_BYTES:
                yield Rejected(where, f"line longer than {MAX_LINE_BYTES // (1024 * 1024)} MiB")
                continue
            try:
                raw = raw.decode("utf-8")
            except UnicodeDecodeError as exc:
                yield Rejected(where, f"not UTF-8 ({exc.reason} at byte {exc.start})")
                continue
        line = raw.strip()
        if not line:
            continue
        try:
            record = json.loads(line)
        except ValueError as exc:
            yield Rejected(where, f"invalid JSON: {exc}")
            continue
        if not isinstance(record, dict):
            yield Rejected(where, "a line must hold a JSON object")
            continue
        try:
            yield fields.to_document(record, fallback_id=f"{Path(name).stem}:{lineno}")
        except InvalidInput as exc:
            yield Rejected(where, exc.message)


def _csv(p: Path, fields: FieldMap) -> Iterator[Item]:
    delimiter = "\t" if p.suffix.lower() == ".tsv" else ","
    csv.field_size_limit(MAX_LINE_BYTES)
    # surrogateescape: a bad byte costs only its own row (checked below), not the rest of the file.
    with open(p, newline="", encoding="utf-8", errors="surrogateescape") as fh:
        reader = csv.DictReader(fh, delimiter=delimiter)
        try:
            for row in reader:
                where = f"{p}:{reader.line_num}"
                if None in row:
                    yield Rejected(where, "more cells than header columns")
                    continue
                if not _is_utf8(row):
                    yield Rejected(where, "not UTF-8")
                    continue
                try:
                    yield fields.to_document(dict(row), fallback_id=f"{p.stem}:{reader.line_num}")
                except InvalidInput as exc:
                    yield Rejected(where, exc.message)
        except csv.Error as exc:
            yield Rejected(f"{p}:{reader.line_num}", f"malformed CSV: {exc}")


def _is_utf8(row: dict[str, Any]) -> bool:
    try:
        for key, value in row.items():
            key.encode("utf-8")
            if isinstance(value, str):
                value.encode("utf-8")
    except UnicodeEncodeError:  # a surrogate-escaped byte that was not valid UTF-8
        return False
    return True


def _text_file(p: Path, doc_id: str) -> Iterator[Item]:
    try:
        text = p.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        yield Rejected(f"{p}:1", f"not UTF-8 ({exc.reason} at byte {exc.start})")
        return
    if not text.strip():
        yield Rejected(f"{p}:1", "empty file")
        return
    title = next((ln.lstrip("# ").strip() for ln in text.splitlines() if ln.strip()), "")[:300]
    yield DocumentInput(id=doc_id, text=text, title=title, metadata={"path": doc_id, "suffix": p.suffix})


def _directory(root: Path, fields: FieldMap) -> Iterator[Item]:
    """Every supported file below root, in sorted order; text files use their relative path as id."""
    for p in sorted(root.rglob("*")):
        if not p.is_file() or any(part.startswith(".") for part in p.relative_to(root).parts):
            continue
        kind = _format_of(p)
        if kind == "text":
            yield from _text_file(p, str(p.relative_to(root)))
        elif kind in ("jsonl", "csv", "parquet"):
            yield from iter_source(str(p), fields, kind)
