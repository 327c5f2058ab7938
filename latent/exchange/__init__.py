"""Collections to and from Parquet (pandas, Arrow, DuckDB, Spark) without re-embedding.

`export_collection` writes one row per document with its chunk spans and vectors and names the encoder
in the file's key-value metadata; `ParquetDocuments` reads such a file (or any Parquet file with
id/title/text columns) back as documents, carrying the stored vectors when the target collection's
model and backend are the file's.
"""

from latent.exchange.export import BATCH_DOCS, ExportSummary, export_collection, export_info
from latent.exchange.reader import BATCH_ROWS, ParquetDocuments, ReadCounts
from latent.exchange.schema import ExportInfo, export_schema, text_hash

__all__ = [
    "BATCH_DOCS",
    "BATCH_ROWS",
    "ExportInfo",
    "ExportSummary",
    "ParquetDocuments",
    "ReadCounts",
    "export_collection",
    "export_info",
    "export_schema",
    "text_hash",
]
