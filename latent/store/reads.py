"""The statements every search runs, built once with bound parameters and run on a plain connection.

Measured on SciFact (SQLite): building a select and running it through an ORM session cost ~400 µs for
a 30-id lookup, ~110 µs prebuilt on a connection; a search runs four of them, so this is most of the
search's own time beyond encoding and FAISS.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import cache
from typing import Any

from sqlalchemy import Engine, Row, Select, bindparam, func, select

from latent.store.feature_models import ClusterAssignmentRow, ClusteringRow
from latent.store.models import ChunkRow, CollectionRow, DocumentRow

# DocumentRecord's columns, in its order; text and metadata are left out when a caller does not need them.
RECORD_COLUMNS = "external_id title text metadata_ chunk_count token_count content_hash created_at updated_at".split()

COLLECTION_IDENTITY = select(CollectionRow.id, CollectionRow.created_at).where(CollectionRow.name == bindparam("name"))


def newest_clustering(collection_id: Any) -> Select[Any]:
    """The one "newest clustering" query: its id, NULL without one (for an id or a bound parameter)."""
    return select(func.max(ClusteringRow.id)).where(ClusteringRow.collection_id == collection_id)


NEWEST_CLUSTERING = newest_clustering(bindparam("collection_id")).scalar_subquery()
# The change sequence (for the index catch-up) and the newest clustering, in one round trip.
READ_STATE = select(CollectionRow.seq, NEWEST_CLUSTERING).where(CollectionRow.id == bindparam("collection_id"))

CHUNK_SPANS = (
    select(
        ChunkRow.id,
        ChunkRow.document_id,
        DocumentRow.external_id,
        ChunkRow.ordinal,
        ChunkRow.char_start,
        ChunkRow.char_end,
    )
    .join(DocumentRow, DocumentRow.id == ChunkRow.document_id)
    .where(ChunkRow.id.in_(bindparam("ids", expanding=True)))
)

CLUSTERS_OF = (
    select(DocumentRow.external_id, ClusterAssignmentRow.cluster)
    .join(ClusterAssignmentRow, ClusterAssignmentRow.document_id == DocumentRow.id)
    .where(
        DocumentRow.collection_id == bindparam("collection_id"),
        DocumentRow.external_id.in_(bindparam("ids", expanding=True)),
        ClusterAssignmentRow.clustering_id == bindparam("clustering_id"),
    )
)


def record_columns(with_text: bool, with_metadata: bool) -> list[Any]:
    """DocumentRecord's columns, labelled by field, without text or metadata when not wanted."""
    skip = {name for name, wanted in (("text", with_text), ("metadata_", with_metadata)) if not wanted}
    return [getattr(DocumentRow, c).label(c) for c in RECORD_COLUMNS if c not in skip]


@cache
def records_by_id(with_text: bool, with_metadata: bool) -> Any:
    """The records of a collection's documents named in `ids` (four variants, each built once)."""
    return select(*record_columns(with_text, with_metadata)).where(
        DocumentRow.collection_id == bindparam("collection_id"),
        DocumentRow.external_id.in_(bindparam("ids", expanding=True)),
    )


def run(engine: Engine, statement: Any, **params: Any) -> Sequence[Row[Any]]:
    """All rows of a read on a plain pooled connection (no ORM session: a fifth of the overhead)."""
    with engine.connect() as conn:
        return conn.execute(statement, params).all()
