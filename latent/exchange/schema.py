"""The Parquet layout of an exported collection: its columns and the key-value metadata that names its encoder.

One row per document. Vectors are `list<fixed_size_list<float32, dimension>>` (one per chunk) next to
the chunks' character spans, so pandas/Arrow users get a ready (chunks, dimension) matrix per row and a
re-import into a collection of the same model and backend can store them without embedding again.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from latent.errors import MissingDependency
from latent.records import DocumentInput

if TYPE_CHECKING:
    import pyarrow as pa

FORMAT_VERSION = "1"
PREFIX = "latent."
# Columns only a Latent export has; they never become a document's metadata on import.
FORMAT_COLUMNS = ("chunks", "vectors", "content_hash", "text_hash", "created_at", "updated_at")
VECTOR_COLUMNS = ("chunks", "vectors", "content_hash", "text_hash")  # read only when the vectors are reused


def arrow() -> Any:
    """pyarrow, imported on first use (it is heavy): `import latent` stays fast."""
    try:
        import pyarrow
    except ImportError as exc:  # a main dependency, but an image may have been built without it
        raise MissingDependency("Parquet export and import need pyarrow: pip install pyarrow") from exc
    return pyarrow


def text_hash(title: str, text: str) -> str:
    """The content hash of a title and text alone (the stored `content_hash` also covers given vectors):
    a re-import compares it to tell a row edited since the export, whose vectors are then stale."""
    return DocumentInput(id="", text=text, title=title).content_hash()


@dataclass(frozen=True, slots=True)
class ExportInfo:
    """Where a file's vectors came from: they are reusable only by a collection with the same encoder."""

    collection: str
    model: str
    backend: str
    dimension: int
    metric: str
    chunk_tokens: int
    chunk_overlap: int
    version: str  # the Latent version that wrote the file
    format: str = FORMAT_VERSION

    def to_metadata(self) -> dict[bytes, bytes]:
        return {f"{PREFIX}{k}".encode(): str(getattr(self, k)).encode() for k in self.__slots__}

    @classmethod
    def from_metadata(cls, metadata: dict[bytes, bytes] | None) -> ExportInfo | None:
        """The info of a Latent export; None for any other Parquet file (or one whose keys are damaged)."""
        values = {k.decode(errors="replace"): v.decode(errors="replace") for k, v in (metadata or {}).items()}
        try:
            return cls(
                collection=values[PREFIX + "collection"],
                model=values[PREFIX + "model"],
                backend=values[PREFIX + "backend"],
                dimension=int(values[PREFIX + "dimension"]),
                metric=values[PREFIX + "metric"],
                chunk_tokens=int(values.get(PREFIX + "chunk_tokens", "0")),
                chunk_overlap=int(values.get(PREFIX + "chunk_overlap", "0")),
                version=values.get(PREFIX + "version", ""),
                format=values.get(PREFIX + "format", FORMAT_VERSION),
            )
        except (KeyError, ValueError):
            return None

    def as_dict(self) -> dict[str, Any]:
        return {k: getattr(self, k) for k in self.__slots__}


def export_schema(info: ExportInfo) -> pa.Schema:
    """The schema of an export file, its ExportInfo in the key-value metadata."""
    pa = arrow()
    span = pa.struct([("char_start", pa.int32()), ("char_end", pa.int32())])
    fields = [
        pa.field("id", pa.string(), nullable=False),
        pa.field("title", pa.string()),
        pa.field("text", pa.string()),
        pa.field("metadata", pa.string()),  # a JSON object: any metadata shape survives the round trip
        pa.field("chunks", pa.list_(span)),
        pa.field("vectors", pa.list_(pa.list_(pa.float32(), info.dimension))),
        pa.field("content_hash", pa.string()),
        pa.field("text_hash", pa.string()),  # title and text only: how a re-import spots an edited row
        pa.field("created_at", pa.timestamp("us", tz="UTC")),
        pa.field("updated_at", pa.timestamp("us", tz="UTC")),
    ]
    return pa.schema(fields, metadata=info.to_metadata())
