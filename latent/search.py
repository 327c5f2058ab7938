"""Dense (FAISS), sparse (SQLite FTS5 BM25) and hybrid (reciprocal-rank fusion) search over a collection.

Dense scores are the collection's metric, higher is nearer: cosine similarity (vectors normalised at
write and query time), the dot product (as given), or for l2 the negative squared Euclidean distance.
A collection without an encoder takes query vectors only; its hybrid search needs the vector and the text.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from latent.errors import InvalidInput, NoEncoder
from latent.records import ChunkSpan, Hit
from latent.store.collection import Collection
from latent.vectors import as_vectors

MODES = ("dense", "sparse", "hybrid")


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


def search(
    collection: Collection,
    query: str | None = None,
    vector: Sequence[float] | None = None,
    options: SearchOptions | None = None,
) -> list[Hit]:
    """One query (text or vector) -> ranked hits."""
    return search_many(
        collection, [query] if query is not None else None, [vector] if vector is not None else None, options
    )[0]


def search_many(
    collection: Collection,
    queries: list[str] | None = None,
    vectors: Sequence[Sequence[float]] | None = None,
    options: SearchOptions | None = None,
) -> list[list[Hit]]:
    """Many queries in one call: queries are encoded in one batch and searched in one FAISS call."""
    opts = options or SearchOptions()
    if opts.mode not in MODES:
        raise InvalidInput(f"mode must be one of {', '.join(MODES)}", code="invalid_mode", details={"mode": opts.mode})
    check_query(collection, opts.mode, queries, vectors)
    if queries is not None and any(not q or not q.strip() for q in queries):
        raise InvalidInput("query text is empty", code="empty_query")
    given = None
    if vectors is not None and opts.mode != "sparse":
        cosine = collection.metric == "cosine"
        given = as_vectors(vectors, collection.dimension, name="query vectors", normalise=cosine)
    need = opts.k + opts.offset
    allowed = collection.allowed_vector_ids(opts.filter)
    state = collection.read_state()  # the index caught up, and whether hits can carry a cluster
    n = len(queries) if queries is not None else len(given)
    if queries is not None and given is not None and len(given) != n:
        raise InvalidInput(
            f"{n} query texts but {len(given)} query vectors", code="invalid_query", details={"texts": n}
        )
    ranked: list[list[_Scored]] = [[] for _ in range(n)]
    if opts.mode in ("dense", "hybrid"):
        qvecs = collection.query_encoder.encode(queries) if given is None else given
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
        ranked = (
            sparse
            if opts.mode == "sparse"
            else [
                fuse(d, sp, opts.rrf_k, opts.dense_weight, opts.sparse_weight)
                for d, sp in zip(ranked, sparse, strict=True)
            ]
        )
    return [enrich(collection, r[opts.offset : need], opts, state.clustering_id) for r in ranked]


def check_query(
    collection: Collection, mode: str, queries: list[str] | None, vectors: Sequence[Sequence[float]] | None
) -> None:
    """Which of text and vector each mode takes. With an encoder: one of them (sparse and hybrid need text).
    Without one: dense takes a vector, sparse text, hybrid both (the vector for its dense half)."""
    if not collection.has_encoder:
        if mode != "sparse" and vectors is None:
            raise NoEncoder(
                f"collection {collection.name!r} has no encoder: send `vector` (hybrid: `vector` and `query`)",
                details={"collection": collection.name, "mode": mode},
            )
        if mode != "dense" and queries is None:
            raise InvalidInput(f"mode {mode!r} needs query text", code="invalid_query")
        if mode == "dense" and queries is not None:
            raise InvalidInput("give a query vector, not both text and a vector", code="invalid_query")
        return
    if (queries is None) == (vectors is None):
        raise InvalidInput("give either query text or a vector", code="invalid_query")
    if mode != "dense" and queries is None:
        raise InvalidInput(f"mode {mode!r} needs query text, not a vector", code="invalid_query")


def dense_ranking(
    collection: Collection, qvecs: np.ndarray, n_docs: int, allowed: np.ndarray | None
) -> list[list[_Scored]]:
    """Top documents per query: chunks are searched, then each document keeps its best chunk."""
    total = len(collection.vectors.index)
    fetch = min(max(2 * n_docs + 10, 16), max(total, 1))
    info: dict[int, ChunkSpan] = {}
    looked_up: set[int] = set()  # chunk ids asked for already (a deleted chunk is not asked for twice)
    while True:
        result = collection.vectors.search(qvecs, fetch, allowed)
        new = [v for v in np.unique(result.ids[result.ids >= 0]).tolist() if v not in looked_up]
        info.update(collection.chunk_documents(new))  # a wider fetch looks up only the chunks it added
        looked_up.update(new)
        out: list[list[_Scored]] = []
        short = False
        for scores, ids in zip(result.scores, result.ids, strict=True):
            best: dict[str, _Scored] = {}
            for score, vid in zip(scores, ids, strict=True):
                span = info.get(int(vid))
                if span is None:  # padding (-1), or deleted since the index answered
                    continue
                if span.external_id not in best:
                    chunk = {"ordinal": span.ordinal, "start": span.char_start, "end": span.char_end}
                    best[span.external_id] = _Scored(span.external_id, float(score), chunk, {"dense": float(score)})
            out.append(list(best.values())[:n_docs])
            short |= len(best) < n_docs
        if not short or fetch >= total:
            return out
        fetch = min(fetch * 4, total)


def sparse_ranking(collection: Collection, query: str, n_docs: int, filter: dict[str, Any] | None) -> list[_Scored]:
    """Top documents by BM25 (SQLite FTS5, `latent.store.fts`); the filter applies in the same statement."""
    return [_Scored(ext, score, None, {"sparse": score}) for ext, score in collection.bm25(query, n_docs, filter)]


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


def enrich(
    collection: Collection, ranked: list[_Scored], opts: SearchOptions, clustering_id: int | None = None
) -> list[Hit]:
    """Hits with the fields asked for; `clustering_id` (None: no clustering, no cluster lookup) labels them."""
    found = collection.get_many([s.doc_id for s in ranked], with_text=opts.with_text, with_metadata=opts.with_metadata)
    records = {r.id: r for r in found}
    vectors = collection.stored_vectors(list(records)) if opts.with_vector else {}
    clusters = collection.clusters_of(list(records), clustering_id) if clustering_id is not None and records else {}
    hits = []
    for s in ranked:
        rec = records.get(s.doc_id)
        if rec is None:  # deleted between the index search and this lookup
            continue
        hits.append(
            Hit(
                id=s.doc_id,
                score=s.score,
                rank=len(hits) + opts.offset + 1,
                chunk=s.chunk,
                title=rec.title,
                text=rec.text,  # None unless asked for: get_many left the column out
                metadata=rec.metadata,
                vector=vectors[s.doc_id].tolist() if s.doc_id in vectors else None,
                scores=s.parts,
                cluster=clusters.get(s.doc_id),
            )
        )
    return hits


def neighbors(
    collection: Collection,
    doc_id: str,
    k: int = 10,
    filter: dict[str, Any] | None = None,
    options: SearchOptions | None = None,
) -> list[Hit]:
    """The k documents nearest a stored document, itself excluded."""
    vector = collection.stored_vectors([doc_id]).get(doc_id)
    if vector is None:
        from latent.errors import DocumentNotFound

        raise DocumentNotFound([doc_id], collection.name)
    opts = options or SearchOptions()
    opts.k, opts.filter, opts.mode = k, filter, "dense"
    opts.exclude = set(opts.exclude) | {doc_id}
    return search(collection, vector=vector.tolist(), options=opts)
