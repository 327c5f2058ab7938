"""The sparse-search SQL: BM25 over SQLite's FTS5 table `documents_fts` (created, and kept in step with
`documents` by triggers, in the initial migration), so every FTS5 query of Latent lives in one place."""

from __future__ import annotations

import re
from typing import Any

from sqlalchemy import bindparam, column, func, literal_column, select, table
from sqlalchemy.orm import sessionmaker

from latent.errors import InvalidInput
from latent.store.models import DocumentRow

STOP_WORDS = frozenset(
    "a an and are as at be but by for from has have in into is it its of on or that the their there these "
    "this to was were what when where which who will with does do did not no can how why than then".split()
)
MAX_TERMS = 64
TITLE_WEIGHT = 2.0  # bm25() column weights: title counts twice the body (SciFact nDCG@10 0.693)
_TERM = re.compile(r"\w+", re.UNICODE)


def fts_query(text: str) -> str | None:
    """OR of the query's distinct terms minus stop words (FTS5 would AND them and lose recall)."""
    terms: list[str] = []
    for term in _TERM.findall(text.lower()):
        if term not in STOP_WORDS and term not in terms:
            terms.append(term)
    return " OR ".join(f'"{t}"' for t in terms[:MAX_TERMS]) or None


def bm25_ranking(
    sessions: sessionmaker, dialect: str, collection_id: int, query: str, limit: int, clause: Any = None
) -> list[tuple[str, float]]:
    """(external id, BM25 score) of the best `limit` documents of a collection for `query`, best first.

    Args:
        clause: a compiled filter (`FilterCompiler.compile`) applied in the same statement, or None.

    Raises:
        InvalidInput `sparse_unsupported` off SQLite (FTS5 is SQLite's).
    """
    if dialect != "sqlite":
        raise InvalidInput("sparse and hybrid search need the SQLite store (FTS5)", code="sparse_unsupported")
    match = fts_query(query)
    if match is None:
        return []
    fts = table("documents_fts", column("rowid"))
    fts_name = literal_column("documents_fts")
    score = (-func.bm25(fts_name, TITLE_WEIGHT, 1.0)).label("score")
    stmt = (
        select(DocumentRow.external_id, score)
        .select_from(fts)
        .join(DocumentRow, DocumentRow.id == fts.c.rowid)
        .where(fts_name.op("MATCH")(bindparam("match")), DocumentRow.collection_id == collection_id)
        .order_by(score.desc())
        .limit(limit)
    )
    if clause is not None:
        stmt = stmt.where(clause)
    with sessions() as s:
        rows = s.execute(stmt, {"match": match}).all()
    return [(ext, float(value)) for ext, value in rows]
