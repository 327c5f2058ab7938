"""Compressed approximate search with FAISS IVF-PQ: ~56 bytes a vector (48-byte PQ code + 8-byte id).

Training: IVF centroids and PQ codebooks are learned from the first `train_size` vectors added
(default max(39 * nlist, 39 * 2**nbits), FAISS's own minimum for stable k-means). Until that many
have arrived, vectors wait in a float32 buffer that is searched exactly, so a small collection is
served correctly (as a flat index) rather than by an under-trained quantizer. When the buffer fills,
the index is trained on it (a random sample of at most `max_train` rows), the buffer is encoded and
dropped. Removes are real (IVF supports remove_ids), so there are no tombstones. Scores are the
PQ-approximated inner products. By default (`opq=1`) a learned rotation (OPQ) precedes PQ: same bytes
per vector, recall@10 0.47 -> 0.61 at 1M mixture vectors (bench/ann.py), training ~4x as long (2 min
for 1M on 2 cores); `opq=0` turns it off.

Re-ranking: the codes only approximate the scores, but the exact vectors exist elsewhere (the store
keeps them in SQL). When a `vector_source` is attached (a callable: ids -> float32 rows, not part of
the index and not serialized), a trained index asks FAISS for `k * refine` candidates, fetches their
exact vectors in one call, and returns the top k by exact inner product, so the scores are exact and
recall reaches the share of the true top-k among the candidates. The index itself stays ~56 B/vector.
Default `refine=8` (bench/ann.py, 100k mixture vectors, OPQ, nprobe=32: recall@10 0.70 plain, 0.98 /
0.994 / 0.996 at refine 4 / 8 / 16); `refine=1` turns it off.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import numpy as np

from latent.errors import InvalidInput
from latent.index.base import (
    SearchResult,
    as_ids,
    check_metric,
    empty_result,
    faiss_metric,
    fix_missing,
    to_scores,
)
from latent.index.codec import few_query_threads, flag, pack, unpack
from latent.index.recall import exact_search
from latent.vectors import as_vectors

# Filters admitting less than this fraction of vectors scan every list (probing few lists finds too few).
FULL_SCAN_SELECTIVITY = 0.02
# Re-ranking scores candidates in blocks of about this many floats (queries x candidates x dimension) ...
RERANK_BLOCK_FLOATS = 1 << 22
# ... asks the source for at most about this many rows at once (a huge batch is split by queries) ...
MAX_SOURCE_ROWS = 1 << 17
# ... and re-ranks at most this many candidates a query: a larger k gets plain PQ scores (a caller paging
# deep into the collection; fetching that many exact vectors would cost more than the search).
MAX_RERANK_CANDIDATES = 1 << 14

# ids (sorted, unique int64) -> their exact vectors, one float32 row each in the same order; a row of NaN
# marks an id the source no longer holds (deleted since the index was searched): it is dropped.
VectorSource = Callable[[np.ndarray], np.ndarray]


def default_nlist(n: int) -> int:
    """About 2 * sqrt(n) lists, a power of two in [64, 65536] (1M -> 2048): k-means training stays
    affordable on a small CPU, and with nprobe lists probed each query scans ~nprobe * sqrt(n) / 2 codes."""
    return int(2 ** min(16, max(6, round(math.log2(2 * math.sqrt(max(n, 1)))))))


class IVFPQIndex:
    kind = "ivf-pq"
    PARAMS = {
        "nlist": int,
        "nprobe": int,
        "pq_m": int,
        "nbits": int,
        "train_size": int,
        "max_train": int,
        "random_state": int,
        "opq": flag,
        "refine": int,
        "metric": check_metric,
    }

    def __init__(
        self,
        dimension: int,
        nlist: int = 1024,
        nprobe: int = 32,
        pq_m: int = 48,
        nbits: int = 8,
        train_size: int | None = None,
        max_train: int | None = None,
        random_state: int = 0,
        opq: bool = True,
        refine: int = 8,
        metric: str = "ip",
        *,
        index: Any = None,
        vector_source: VectorSource | None = None,
    ):
        import faiss

        if dimension % pq_m:
            raise InvalidInput(
                f"pq_m={pq_m} must divide the dimension {dimension}",
                details={"pq_m": pq_m, "dimension": dimension},
            )
        if not 1 <= nbits <= 16:
            raise InvalidInput("nbits must be between 1 and 16", details={"nbits": nbits})
        self._faiss = faiss
        self.dimension = dimension
        self.nlist, self.nprobe, self.pq_m, self.nbits = nlist, min(nprobe, nlist), pq_m, nbits
        self.train_size = train_size or max(39 * nlist, 39 * 2**nbits)
        self.max_train = max(max_train or 64 * nlist, self.train_size)
        self.random_state = random_state
        self.opq = int(bool(opq))
        self.metric = check_metric(metric)
        self.refine = max(1, int(refine))  # candidates per wanted hit when re-ranking; 1 = off
        self.vector_source = vector_source  # exact vectors by id (the store's SQL rows); never serialized
        self.index = index  # None until trained
        self._buf_ids = np.zeros(0, dtype=np.int64)
        self._buf_vectors = np.zeros((0, dimension), dtype=np.float32)
        self._pending: list[tuple[np.ndarray, np.ndarray]] = []  # adds not yet merged into the buffer
        self._pending_count = 0

    @classmethod
    def from_params(cls, dimension: int, params: dict[str, Any], size_hint: int | None = None) -> IVFPQIndex:
        params = dict(params)
        if "nlist" not in params and size_hint:
            params["nlist"] = default_nlist(size_hint)
        return cls(dimension, **params)

    @property
    def params(self) -> dict[str, Any]:
        return {
            "nlist": self.nlist,
            "nprobe": self.nprobe,
            "pq_m": self.pq_m,
            "nbits": self.nbits,
            "train_size": self.train_size,
            "max_train": self.max_train,
            "random_state": self.random_state,
            "opq": self.opq,
            "refine": self.refine,
            "metric": self.metric,
        }

    @property
    def reranks(self) -> bool:
        """Whether searches re-rank candidates with exact vectors (trained, refine > 1, a source attached)."""
        return self.trained and self.refine > 1 and self.vector_source is not None

    @property
    def trained(self) -> bool:
        return self.index is not None

    @property
    def code_bytes(self) -> int:
        return math.ceil(self.pq_m * self.nbits / 8)

    def add(self, ids: np.ndarray, vectors: np.ndarray) -> None:
        ids = as_ids(ids)
        if not len(ids):
            return
        vectors = as_vectors(vectors, self.dimension, min_rows=0)
        if len(vectors) != len(ids):
            raise InvalidInput("ids and vectors differ in length", details={"ids": len(ids), "vectors": len(vectors)})
        if self.trained:
            self.index.add_with_ids(vectors, ids)
            return
        # appended as chunks: merging on every small add would copy the whole buffer each time
        self._pending.append((ids, vectors.copy()))
        self._pending_count += len(ids)
        if len(self) >= self.train_size:
            self._train_and_flush()

    def _buffer(self) -> tuple[np.ndarray, np.ndarray]:
        """(ids, vectors) waiting for training, merged into one pair of arrays."""
        if self._pending:
            self._buf_ids = np.concatenate([self._buf_ids] + [i for i, _ in self._pending])
            self._buf_vectors = np.vstack([self._buf_vectors] + [v for _, v in self._pending])
            self._pending, self._pending_count = [], 0
        return self._buf_ids, self._buf_vectors

    def _train_and_flush(self) -> None:
        faiss = self._faiss
        # "np": no polysemous training, which index_factory would otherwise do (slow, and unused here)
        prefix = f"OPQ{self.pq_m}," if self.opq else ""
        spec = f"{prefix}IVF{self.nlist},PQ{self.pq_m}x{self.nbits}np"
        index = faiss.index_factory(self.dimension, spec, faiss_metric(faiss, self.metric))
        ivf = faiss.extract_index_ivf(index)
        ivf.cp.seed = self.random_state
        faiss.downcast_index(ivf).pq.cp.seed = self.random_state
        rng = np.random.default_rng(self.random_state)
        buf_ids, buf_vectors = self._buffer()
        n = len(buf_ids)
        rows = np.sort(rng.choice(n, size=min(n, self.max_train), replace=False))
        index.train(buf_vectors[rows])
        index.add_with_ids(buf_vectors, buf_ids)
        ivf.nprobe = self.nprobe
        self.index = index
        self._buf_ids = np.zeros(0, dtype=np.int64)
        self._buf_vectors = np.zeros((0, self.dimension), dtype=np.float32)

    def remove(self, ids: np.ndarray) -> int:
        ids = np.unique(as_ids(ids))
        if not len(ids):
            return 0
        if self.trained:
            return int(self.index.remove_ids(self._faiss.IDSelectorBatch(ids)))
        buf_ids, buf_vectors = self._buffer()
        keep = ~np.isin(buf_ids, ids)
        removed = int((~keep).sum())
        self._buf_ids, self._buf_vectors = buf_ids[keep], buf_vectors[keep]
        return removed

    def search(self, queries: np.ndarray, k: int, allowed: np.ndarray | None = None) -> SearchResult:
        queries = as_vectors(queries, self.dimension, min_rows=0)
        if k < 1:
            raise InvalidInput("k must be at least 1", details={"k": k})
        if len(self) == 0 or (allowed is not None and len(allowed) == 0):
            return empty_result(len(queries), k)
        if not self.trained:
            ids, vectors = self._buffer()
            if allowed is not None:
                mask = np.isin(ids, as_ids(allowed))
                ids, vectors = ids[mask], vectors[mask]
            return exact_search(queries, ids, vectors, k, self.metric)
        if not self.reranks or k > MAX_RERANK_CANDIDATES:
            return self._search_codes(queries, k, k, allowed)
        # more candidates than hits, scored exactly; never more than the index holds
        limit = min(MAX_RERANK_CANDIDATES, len(self) if allowed is None else len(allowed))
        fetch = max(k, min(k * self.refine, limit))
        return self._rerank(queries, self._search_codes(queries, fetch, k, allowed), k)

    def _search_codes(self, queries: np.ndarray, fetch: int, need: int, allowed: np.ndarray | None) -> SearchResult:
        """FAISS's top `fetch` by PQ score; rows with fewer than `need` hits are searched again over every list."""
        params = self._faiss.SearchParametersIVF()
        params.nprobe = self.nprobe
        if allowed is not None:
            allowed = np.unique(as_ids(allowed))
            params.sel = self._faiss.IDSelectorBatch(allowed)
            share = len(allowed) / len(self)
            # probe more lists the fewer vectors the filter admits, all of them when it admits very few
            params.nprobe = (
                self.nlist if share < FULL_SCAN_SELECTIVITY else min(self.nlist, math.ceil(self.nprobe / share))
            )
        with few_query_threads(len(queries)):
            scores, ids = self.index.search(queries, fetch, params=self._wrap(params))
        result = fix_missing(SearchResult(to_scores(scores, self.metric), ids))
        if params.nprobe < self.nlist:
            # rows short of k hits: the probed lists held too few admitted vectors; scan every list for them
            short = np.flatnonzero((ids >= 0).sum(axis=1) < need)
            if len(short):
                params.nprobe = self.nlist
                with few_query_threads(len(short)):
                    s2, i2 = self.index.search(queries[short], fetch, params=self._wrap(params))
                redo = fix_missing(SearchResult(to_scores(s2, self.metric), i2))
                result.scores[short], result.ids[short] = redo.scores, redo.ids
        return result

    def _rerank(self, queries: np.ndarray, candidates: SearchResult, k: int) -> SearchResult:
        """Exact inner products of each query with its candidates, top k kept. The source is called once
        per group of queries (once in all for ordinary batches) with the union of their candidates."""
        cand = candidates.ids
        per_group = max(1, MAX_SOURCE_ROWS // cand.shape[1])
        scores = np.empty(cand.shape, dtype=np.float32)
        for lo in range(0, len(cand), per_group):
            hi = lo + per_group
            scores[lo:hi] = self._exact_scores(queries[lo:hi], cand[lo:hi])
        order = np.argsort(-scores, axis=1, kind="stable")[:, :k]
        top = np.take_along_axis(scores, order, axis=1)
        ids = np.where(np.isfinite(top), np.take_along_axis(cand, order, axis=1), -1)
        return SearchResult(np.ascontiguousarray(top), np.ascontiguousarray(ids))

    def _exact_scores(self, queries: np.ndarray, cand: np.ndarray) -> np.ndarray:
        """(nq, c) exact scores of candidate ids; -inf for padding and for ids the source no longer has."""
        scores = np.full(cand.shape, -np.inf, dtype=np.float32)
        wanted = np.unique(cand[cand >= 0])
        if not len(wanted):
            return scores
        exact = np.asarray(self.vector_source(wanted), dtype=np.float32)
        if exact.shape != (len(wanted), self.dimension):
            raise ValueError(f"vector_source returned shape {exact.shape} for {len(wanted)} ids")
        held = np.isfinite(exact).all(axis=1)
        if not held.all():
            exact = np.where(held[:, None], exact, np.float32(0))
        row = np.minimum(np.searchsorted(wanted, np.maximum(cand, 0)), len(wanted) - 1)
        step = max(1, RERANK_BLOCK_FLOATS // (cand.shape[1] * self.dimension))
        for lo in range(0, len(cand), step):
            hi = lo + step
            scores[lo:hi] = np.matmul(exact[row[lo:hi]], queries[lo:hi, :, None])[:, :, 0]
            if self.metric == "l2":  # -|x - q|^2 = 2 x.q - |x|^2 - |q|^2
                rows = exact[row[lo:hi]]
                q2 = np.einsum("ij,ij->i", queries[lo:hi], queries[lo:hi])[:, None]
                scores[lo:hi] = 2 * scores[lo:hi] - np.einsum("ijk,ijk->ij", rows, rows) - q2
        scores[(cand < 0) | ~held[row]] = -np.inf
        return scores

    def _wrap(self, params: Any) -> Any:
        """With OPQ the IVF index sits inside an IndexPreTransform, which takes its own parameter object."""
        if not self.opq:
            return params
        outer = self._faiss.SearchParametersPreTransform()
        outer.index_params = params
        outer._keep = params  # the SWIG field does not hold a Python reference
        return outer

    def rebuild_needed(self) -> bool:
        """Never: removes are real, nothing piles up (the protocol's HNSW-driven question)."""
        return False

    def exact_search(self, queries: np.ndarray, k: int) -> SearchResult:
        """Exact while the vectors still sit in the training buffer; afterwards only PQ codes remain."""
        if self.trained:
            raise InvalidInput(
                "a trained IVF-PQ index keeps only compressed codes; pass ids= and vectors= as ground truth",
                details={"kind": self.kind},
            )
        return exact_search(as_vectors(queries, self.dimension, min_rows=0), *self._buffer(), k, self.metric)

    def ids(self) -> np.ndarray:
        """Buffered ids plus every id in the inverted lists (`latent check` compares them with SQL)."""
        parts = [self._buf_ids] + [np.asarray(i, dtype=np.int64) for i, _ in getattr(self, "_pending", [])]
        if self.index is not None:
            import faiss

            ivf = faiss.extract_index_ivf(self.index)
            for lst in range(ivf.nlist):
                size = ivf.invlists.list_size(lst)
                if size:
                    parts.append(faiss.rev_swig_ptr(ivf.invlists.get_ids(lst), size).astype(np.int64))
        return np.concatenate(parts) if parts else np.zeros(0, np.int64)

    def serialize(self) -> bytes:
        header = {"params": self.params, "trained": self.trained}
        if self.trained:
            return pack(self.kind, header, {"faiss": self._faiss.serialize_index(self.index)})
        buf_ids, buf_vectors = self._buffer()
        return pack(self.kind, header, {"ids": buf_ids, "vectors": buf_vectors})

    @classmethod
    def deserialize(cls, dimension: int, data: bytes, params: dict | None = None) -> IVFPQIndex:
        import faiss

        meta, arrays = unpack(cls.kind, data)
        out = cls(dimension, **meta["params"])
        if meta["trained"]:
            out.index = faiss.deserialize_index(np.ascontiguousarray(arrays["faiss"]))
            faiss.extract_index_ivf(out.index).nprobe = out.nprobe
        else:
            out._buf_ids = arrays["ids"].copy()
            out._buf_vectors = arrays["vectors"].reshape(-1, dimension).copy()
        return out

    @staticmethod
    def estimate_bytes(n: int, dimension: int, pq_m: int = 48, nbits: int = 8, nlist: int = 1024) -> int:
        return int(n * (math.ceil(pq_m * nbits / 8) + 8) + nlist * dimension * 4 + dimension * 2**nbits * 4)

    def stats(self) -> dict[str, Any]:
        n = len(self)
        if self.trained:
            per_vector = self.code_bytes + 8
            fixed = self.nlist * self.dimension * 4 + self.dimension * 2**self.nbits * 4
            fixed += self.opq * self.dimension * self.dimension * 4  # the rotation matrix
            memory = n * per_vector + fixed
        else:
            per_vector = self.dimension * 4 + 8
            memory = n * per_vector
        return {
            "type": self.kind,
            "params": self.params,
            "vectors": n,
            "memory_bytes": int(memory),
            "bytes_per_vector": per_vector,
            "tombstones": 0,
            "trained": self.trained,
            "train_remaining": 0 if self.trained else self.train_size - n,
            # exact vectors come from outside (SQL) and are not counted in memory_bytes
            "reranked": self.reranks,
        }

    def __len__(self) -> int:
        return int(self.index.ntotal) if self.trained else len(self._buf_ids) + self._pending_count
