"""Dense (FAISS), sparse (SQLite FTS5 BM25) and hybrid (reciprocal-rank fusion) search over a collection."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from sqlalchemy import bindparam, column, func, literal_column, select, table

from latent.errors import DimensionMismatch, InvalidInput
from latent.records import Hit
from latent.store.collection import Collection
from latent.store.models import DocumentRow

MODES = ("dense", "sparse", "hybrid")
STOP_WORDS = frozenset(
    "a an and are as at be but by for from has have in into is it its of on or that the their there these "
    "this to was were what when where which who will with does do did not no can how why than then".split()
)
_TERM = re.compile(r"\w+", re.UNICODE)


@dataclass(slots=True)
class SearchOptions:
    k: int = 10
    offset: int = 0
    filter: dict[str, Any] | None = None
    mode: str = "dense"
    rrf_k: int = 60
    dense_weight: float = 1.0
    sparse_weight: float = 1.0
    with_text: bool = False
    with_metadata: bool = False
    with_vector: bool = False
    exclude: set[str] = field(default_factory=set)


@dataclass(slots=True)
class _Scored:
    doc_id: str
    score: float
    chunk: dict[str, int] | None = None
    parts: dict[str, float] = field(default_factory=dict)


def search(collection: Collection, query: str | None = None, vector: Sequence[float] | None = None,
           options: SearchOptions | None = None) -> list[Hit]:
    """One query (text or vector) -> ranked hits."""
    return search_many(collection, [query] if query is not None else None,
                       [vector] if vector is not None else None, options)[0]


def search_many(collection: Collection, queries: list[str] | None = None,
                vectors: Sequence[Sequence[float]] | None = None,
                options: SearchOptions | None = None) -> list[list[Hit]]:
    """Many queries in one call: queries are encoded in one batch and searched in one FAISS call."""
    opts = options or SearchOptions()
    if opts.mode not in MODES:
        raise InvalidInput(f"mode must be one of {', '.join(MODES)}", code="invalid_mode", details={"mode": opts.mode})
    if (queries is None) == (vectors is None):
        raise InvalidInput("give either query text or a vector", code="invalid_query")
    if opts.mode != "dense" and queries is None:
        raise InvalidInput(f"mode {opts.mode!r} needs query text, not a vector", code="invalid_query")
    if queries is not None and any(not q or not q.strip() for q in queries):
        raise InvalidInput("query text is empty", code="empty_query")
    need = opts.k + opts.offset
    allowed = collection.allowed_vector_ids(opts.filter)
    collection.vectors.catch_up()
    n = len(queries) if queries is not None else len(vectors or [])
    ranked: list[list[_Scored]] = [[] for _ in range(n)]
    if opts.mode in ("dense", "hybrid"):
        qvecs = encode_queries(collection, queries, vectors)
        pool = need if opts.mode == "dense" else max(100, 2 * need)
        dense = dense_ranking(collection, qvecs, pool + len(opts.exclude), allowed)
        ranked = [[s for s in r if s.doc_id not in opts.exclude] for r in dense]
    if opts.mode in ("sparse", "hybrid"):
        pool = need if opts.mode == "sparse" else max(100, 2 * need)
        sparse = [
            [
                s
                for s in sparse_ranking(collection, q, pool + len(opts.exclude), opts.filter)
                if s.doc_id not in opts.exclude
            ]
            for q in queries or []
        ]
        ranked = sparse if opts.mode == "sparse" else [
            fuse(d, sp, opts.rrf_k, opts.dense_weight, opts.sparse_weight) for d, sp in zip(ranked, sparse, strict=True)
        ]
    return [enrich(collection, r[opts.offset : need], opts) for r in ranked]


def encode_queries(
    collection: Collection, queries: list[str] | None, vectors: Sequence[Sequence[float]] | None
) -> np.ndarray:
    if queries is not None:
        return collection.query_encoder.encode(queries)
    arr = np.asarray(vectors, dtype=np.float32)
    if arr.ndim != 2 or arr.shape[1] != collection.dimension:
        raise DimensionMismatch(
            f"query vectors must have dimension {collection.dimension} (collection {collection.name!r})",
            details={"expected": collection.dimension, "got": int(arr.shape[-1]) if arr.ndim else 0},
        )
    if not np.all(np.isfinite(arr)):
        raise InvalidInput("query vector contains NaN or infinity", code="invalid_vector")
    norms = np.linalg.norm(arr, axis=1, keepdims=True)
    norms[norms == 0] = 1.0
    return arr / norms


def dense_ranking(
    collection: Collection, qvecs: np.ndarray, n_docs: int, allowed: np.ndarray | None
) -> list[list[_Scored]]:
    """Top documents per query: chunks are searched, then each document keeps its best chunk."""
    total = len(collection.vectors.index)
    fetch = min(max(2 * n_docs + 10, 16), max(total, 1))
    while True:
        with collection.vectors.lock.read():
            result = collection.vectors.index.search(qvecs, fetch, allowed)
        chunk_ids = np.unique(result.ids[result.ids >= 0])
        info = collection.chunk_documents(chunk_ids.tolist())
        out: list[list[_Scored]] = []
        short = False
        for scores, ids in zip(result.scores, result.ids, strict=True):
            best: dict[str, _Scored] = {}
            for score, vid in zip(scores, ids, strict=True):
                if vid < 0 or int(vid) not in info:
                    continue
                _, ext, ordinal, start, end = info[int(vid)]
                if ext not in best:
                    best[ext] = _Scored(ext, float(score), {"ordinal": ordinal, "start": start, "end": end},
                                        {"dense": float(score)})
            out.append(list(best.values())[:n_docs])
            short |= len(best) < n_docs
        if not short or fetch >= total:
            return out
        fetch = min(fetch * 4, total)


def fts_query(text: str) -> str | None:
    """OR of the query's distinct terms minus stop words (FTS5 would AND them and lose recall)."""
    terms = []
    for term in _TERM.findall(text.lower()):
        if term not in STOP_WORDS and term not in terms:
            terms.append(term)
    return " OR ".join(f'"{t}"' for t in terms[:64]) or None


def sparse_ranking(collection: Collection, query: str, n_docs: int, filter: dict[str, Any] | None) -> list[_Scored]:
    if collection.dialect != "sqlite":
        raise InvalidInput("sparse and hybrid search need the SQLite store (FTS5)", code="sparse_unsupported")
    match = fts_query(query)
    if match is None:
        return []
    clause = collection.filters.compile(filter)
    fts = table("documents_fts", column("rowid"))
    fts_name = literal_column("documents_fts")
    score = (-func.bm25(fts_name, 2.0, 1.0)).label("score")
    stmt = (
        select(DocumentRow.external_id, score)
        .select_from(fts)
        .join(DocumentRow, DocumentRow.id == fts.c.rowid)
        .where(fts_name.op("MATCH")(bindparam("match")), DocumentRow.collection_id == collection.id)
        .order_by(score.desc())
        .limit(n_docs)
    )
    if clause is not None:
        stmt = stmt.where(clause)
    with collection.sessions() as s:
        rows = s.execute(stmt, {"match": match}).all()
    return [_Scored(ext, float(score), None, {"sparse": float(score)}) for ext, score in rows]


def fuse(dense: list[_Scored], sparse: list[_Scored], rrf_k: int, w_dense: float, w_sparse: float) -> list[_Scored]:
    """Reciprocal-rank fusion: score = Σ weight / (rrf_k + rank), ranks from 1."""
    fused: dict[str, _Scored] = {}
    for weight, ranking, name in ((w_dense, dense, "dense"), (w_sparse, sparse, "sparse")):
        for rank, item in enumerate(ranking, start=1):
            entry = fused.setdefault(item.doc_id, _Scored(item.doc_id, 0.0, item.chunk, {}))
            entry.score += weight / (rrf_k + rank)
            entry.parts[name] = item.parts.get(name, item.score)
            entry.chunk = entry.chunk or item.chunk
    return sorted(fused.values(), key=lambda s: -s.score)


def enrich(collection: Collection, ranked: list[_Scored], opts: SearchOptions) -> list[Hit]:
    records = {r.id: r for r in collection.get_many([s.doc_id for s in ranked])}
    vectors = collection.document_vectors(list(records)) if opts.with_vector else {}
    clusters = collection.clusters_of(list(records))
    hits = []
    for s in ranked:
        rec = records.get(s.doc_id)
        if rec is None:  # deleted between the index search and this lookup
            continue
        hits.append(
            Hit(
                id=s.doc_id, score=s.score, rank=len(hits) + opts.offset + 1, chunk=s.chunk, title=rec.title,
                text=rec.text if opts.with_text else None,
                metadata=rec.metadata if opts.with_metadata else None,
                vector=vectors[s.doc_id].tolist() if s.doc_id in vectors else None,
                scores=s.parts,
                cluster=clusters.get(s.doc_id),
            )
        )
    return hits


def neighbors(collection: Collection, doc_id: str, k: int = 10, filter: dict[str, Any] | None = None,
              options: SearchOptions | None = None) -> list[Hit]:
    """The k documents nearest a stored document, itself excluded."""
    vector = collection.document_vectors([doc_id]).get(doc_id)
    if vector is None:
        from latent.errors import DocumentNotFound

        raise DocumentNotFound([doc_id], collection.name)
    opts = options or SearchOptions()
    opts.k, opts.filter, opts.mode = k, filter, "dense"
    opts.exclude = set(opts.exclude) | {doc_id}
    return search(collection, vector=vector.tolist(), options=opts)
