"""Search latency and throughput: a real server (uvicorn) against in-process encode + FAISS, same run.

Indexes SciFact (or its first --limit documents; an existing collection is reused, unchanged documents
are skipped by hash), starts `uvicorn service.main:create_app` twice on free ports, with query batching
(the default) and without (`LATENT_QUERY_BATCH_WAIT_MS=0`), the query cache off on both and in-process
(every block repeats the queries), and sends the SciFact queries with the typed client at each
concurrency. The baseline is what no HTTP service can avoid:
`encoder.encode([query])` + `index.search(vector, k)` in this process. Also measures whether batching
queries into one encode call pays (in-process, and /search/batch against concurrent /search).

    .venv/bin/python bench/search.py --limit 1000 --threads 1

`--no-server` measures only the in-process sides: the raw encode + FAISS floor and the core's
`latent.search.search` (collection lookup, index catch-up, FAISS, SQL lookups, hits), the path every
route runs, with the SQL statements one search executes (deterministic, so a change shows without noise);
then both again from precomputed query vectors (FAISS alone, and `search(vector=...)`), which shows the
core's own cost without the encoder's run-to-run swing. The same file runs against an older tree (copy
it there) to compare before and after on one machine, minutes apart:

    .venv/bin/python bench/search.py --model fake:384 --limit 2000 --queries 200 --concurrency 1,4 --no-server

On a busy 2-core machine, two torch threads per encode made single-query latency swing wildly (both
sides waited on descheduled OpenMP threads), so the reported figures use --threads 1.
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import sys
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench._common import add_server_arguments, load_corpus, print_table, start_server, write_results  # noqa: E402


def load_queries(folder: Path, limit: int) -> list[str]:
    with open(folder / "queries.jsonl", encoding="utf-8") as fh:
        texts = [json.loads(line)["text"] for line in fh if line.strip()]
    return texts[:limit]


def index_collection(home: Path, model: str, name: str, limit: int | None, data: Path) -> dict[str, Any]:
    """Create or reuse the collection and bring it up to the first `limit` documents."""
    from latent.config import get_settings
    from latent.records import DocumentInput
    from latent.store.store import Store

    docs = load_corpus(data, limit)
    start = time.perf_counter()
    with Store(get_settings(home=home, model=model)) as store:
        collection = store.create_collection(name, exist_ok=True)
        upserted = 0
        for i in range(0, len(docs), 256):
            batch = [
                DocumentInput(id=str(d["_id"]), text=d.get("text", ""), title=d.get("title", ""), metadata={"n": i + j})
                for j, d in enumerate(docs[i : i + 256])
            ]
            upserted += collection.upsert(batch).upserted
            print(f"\rindexing {min(i + 256, len(docs))}/{len(docs)}", end="", file=sys.stderr)
        collection.checkpoint()
        info = collection.info()
    print(file=sys.stderr)
    return {
        "collection": name,
        "documents": info.documents,
        "chunks": info.chunks,
        "upserted": upserted,
        "seconds": round(time.perf_counter() - start, 2),
    }


def summarise(latencies: Sequence[float], wall: float, errors: int) -> dict[str, Any]:
    ms = np.asarray(latencies) * 1000
    return {
        "p50_ms": float(np.percentile(ms, 50)),
        "p95_ms": float(np.percentile(ms, 95)),
        "p99_ms": float(np.percentile(ms, 99)),
        "qps": len(ms) / wall,
        "errors": errors,
    }


def run_concurrent(call: Callable[[str], bool], queries: Sequence[str], concurrency: int) -> Run:
    """Every query once, `concurrency` at a time: per-query latencies, wall time, failures."""

    def timed(query: str) -> tuple[float, bool]:
        start = time.perf_counter()
        try:
            ok = call(query)
        except Exception as exc:  # an error is counted and reported, never hidden
            print(f"error: {exc!r}", file=sys.stderr)
            ok = False
        return time.perf_counter() - start, ok

    with ThreadPoolExecutor(concurrency) as pool:
        list(pool.map(timed, queries[:concurrency]))  # every worker thread opens its connection first
        start = time.perf_counter()
        results = list(pool.map(timed, queries))
        wall = time.perf_counter() - start
    return Run([r[0] for r in results], wall, sum(not r[1] for r in results))


@dataclass
class Run:
    latencies: list[float] = field(default_factory=list)
    wall: float = 0.0
    errors: int = 0

    def __iadd__(self, other: Run) -> Run:
        self.latencies += other.latencies
        self.wall += other.wall
        self.errors += other.errors
        return self


def compare(
    sides: dict[str, Callable[[str], bool]], queries: Sequence[str], concurrency: int, blocks: int
) -> dict[str, Run]:
    """Both sides on the same blocks of queries, taking turns (rotating who goes first), so a load spike
    on a shared machine hits both alike instead of whichever happened to run then."""
    runs = {name: Run() for name in sides}
    size = -(-len(queries) // blocks)
    for b in range(blocks):
        block = queries[b * size : (b + 1) * size]
        names = list(sides) if b % 2 == 0 else list(sides)[::-1]
        for name in names:
            runs[name] += run_concurrent(sides[name], block, concurrency)
    return runs


BASELINE = "in-process encode+faiss"
CORE = "in-process search()"
FAISS = "in-process faiss (vector)"
CORE_VECTOR = "in-process search(vector=)"


def sql_per_search(store: Any, call: Callable[[], Any]) -> int:
    """SQL statements one call executes (SQLAlchemy's before_cursor_execute event on the store's engine)."""
    from sqlalchemy import event

    statements = 0

    def count(*_: Any) -> None:
        nonlocal statements
        statements += 1

    call()  # once to warm: the first call may open the collection or replay the index
    event.listen(store.engine, "before_cursor_execute", count)
    try:
        call()
    finally:
        event.remove(store.engine, "before_cursor_execute", count)
    return statements


BATCHED = "batched"
UNBATCHED = "unbatched"


def http_side(port: int, name: str, k: int, mode: str, expected: int) -> Callable[[str], bool]:
    """One search over HTTP, with a client per calling thread (as concurrent users have)."""
    from latent_client import LatentClient

    local = threading.local()

    def over_http(query: str) -> bool:
        client = getattr(local, "client", None)
        if client is None:
            client = local.client = LatentClient(f"http://127.0.0.1:{port}")
        return len(client.search(name, query, k=k, mode=mode).hits) == expected

    return over_http


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def main(argv: list[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_server_arguments(parser)
    parser.add_argument("--queries", type=int, default=300, help="SciFact queries to send per measurement")
    parser.add_argument("--k", type=int, default=10, help="hits per query")
    parser.add_argument("--mode", default="dense", choices=("dense", "sparse", "hybrid"), help="search mode")
    parser.add_argument("--concurrency", default="1,4,16", help="comma-separated client concurrencies")
    parser.add_argument(
        "--threads",
        type=int,
        default=None,
        help="torch intra-op threads, both sides (default: LATENT_THREADS)",
    )
    parser.add_argument("--blocks", type=int, default=6, help="query blocks the sides take turns on")
    parser.add_argument("--no-server", action="store_true", help="in-process sides only (no uvicorn)")
    parser.add_argument(
        "--workers", type=int, default=0, help="also a batched server with this many uvicorn workers (0: none)"
    )
    parser.add_argument("--results", default="search", help="results file: bench/results/NAME.json")
    args = parser.parse_args(argv)

    from latent.config import force_offline, get_settings

    force_offline()
    # No query cache anywhere: every block repeats the same queries, which a cache would answer unmeasured.
    settings = get_settings(home=args.home, model=args.model, threads=args.threads, query_cache_size=0)
    home = settings.home.resolve()
    name = args.collection or ("scifact" if args.limit is None else f"scifact-{args.limit}")
    levels = [int(c) for c in args.concurrency.split(",")]
    indexed = index_collection(home, settings.model, name, args.limit, args.data)
    queries = load_queries(args.data, args.queries)
    print(
        f"{indexed['documents']} documents in {name!r} ({indexed['seconds']} s); {len(queries)} queries",
        file=sys.stderr,
    )

    # ----- in-process: encode + FAISS (the floor), and the core's search() (what every route runs) ----
    from latent.search import SearchOptions, search
    from latent.store.store import Store
    from latent.threads import limit_faiss_threads

    store = Store(settings)
    collection = store.collection(name)
    encoder, index = collection.encoder, collection.vectors.index
    expected = min(args.k, indexed["documents"])
    options = SearchOptions(k=args.k, mode=args.mode)

    def in_process(query: str) -> bool:
        limit_faiss_threads(settings.faiss_threads)  # as the server does, in each worker thread
        result = index.search(encoder.encode([query]), args.k, None)
        return int((result.ids[0] >= 0).sum()) == min(args.k, len(index))

    def core_search(query: str) -> bool:
        # Since issue 12 the core caps FAISS's threads itself; the call stays so older trees measure alike.
        limit_faiss_threads(settings.faiss_threads)
        return len(search(store.collection(name), query, options=options)) == expected

    # The same two without the encoder: what the core itself costs (lookups, FAISS, SQL, hits), which the
    # encoder's run-to-run swing hides in the two above.
    vectors = dict(zip(queries, encoder.encode(list(queries)), strict=True))

    def faiss_only(query: str) -> bool:
        limit_faiss_threads(settings.faiss_threads)
        result = index.search(vectors[query][None, :], args.k, None)
        return int((result.ids[0] >= 0).sum()) == min(args.k, len(index))

    def core_vector(query: str) -> bool:
        limit_faiss_threads(settings.faiss_threads)
        return len(search(store.collection(name), vector=vectors[query], options=dense)) == expected

    dense = SearchOptions(k=args.k)
    sides: dict[str, Callable[[str], bool]] = {BASELINE: in_process, CORE: core_search}
    sides.update({FAISS: faiss_only, CORE_VECTOR: core_vector})
    sql = sql_per_search(store, lambda: core_search(queries[0]))
    print(f"SQL statements per {args.mode} search(): {sql}", file=sys.stderr)

    # ----- the server ------------------------------------------------------------------------------
    server = None
    servers: list[Any] = []
    ports: list[int] = []
    if not args.no_server:
        # The same server twice, with and without query batching (LATENT_QUERY_BATCH_WAIT_MS=0).
        for label, batch_wait in ((BATCHED, None), (UNBATCHED, "0")):
            extra = {"LATENT_QUERY_CACHE_SIZE": "0", "LATENT_BACKEND": collection.backend}
            if batch_wait is not None:
                extra["LATENT_QUERY_BATCH_WAIT_MS"] = batch_wait
            ports.append(free_port())
            servers.append(start_server(home, settings.model, ports[-1], settings.threads, extra))
            sides[f"server /search ({label})"] = http_side(ports[-1], name, args.k, args.mode, expected)
        if args.workers > 1:  # what `latent serve --workers N` does: N processes, each with its own model
            extra = {"LATENT_QUERY_CACHE_SIZE": "0", "LATENT_BACKEND": collection.backend}
            ports.append(free_port())
            servers.append(start_server(home, settings.model, ports[-1], settings.threads, extra, args.workers))
            sides[f"server /search ({BATCHED}, {args.workers} workers)"] = http_side(
                ports[-1], name, args.k, args.mode, expected
            )
        server, port = servers[0], ports[0]
    rows: list[dict[str, Any]] = []
    batching: dict[str, Any] = {"errors": 0, "table": {}}
    try:
        # Warm every side on every query once: the encoder's first call on each new input shape is slow,
        # and the in-process encoder was already warmed by indexing while the server's was not.
        for call in sides.values():
            run_concurrent(call, queries, 4)
        for c in levels:
            runs = compare(sides, queries, c, args.blocks)
            for where, run in runs.items():
                rows.append({"concurrency": c, "where": where, **summarise(run.latencies, run.wall, run.errors)})
            print(
                f"c={c}: " + ", ".join(f"{r['where']} p50 {r['p50_ms']:.2f} ms" for r in rows[-len(sides) :]),
                file=sys.stderr,
            )
        if server is not None:
            batching = measure_batching(encoder, queries, port, name, args.k, args.mode)
    finally:
        for process in servers:
            process.terminate()
            process.wait(timeout=30)
        store.close()

    ratio = speedup = None
    if server is not None:
        by = {(r["concurrency"], r["where"]): r for r in rows}
        ratio = by[(levels[0], f"server /search ({BATCHED})")]["p50_ms"] / by[(levels[0], BASELINE)]["p50_ms"]
        top = max(levels)
        speedup = by[(top, f"server /search ({BATCHED})")]["qps"] / by[(top, f"server /search ({UNBATCHED})")]["qps"]
    errors = sum(r["errors"] for r in rows) + batching["errors"]
    print_table(f"Search latency, {indexed['documents']} SciFact docs, k={args.k}", rows)
    print_table("Does batching queries into one encode call pay? (queries/s)", [batching["table"]])
    print(f"SQL statements per {args.mode} search(): {sql}")
    if ratio is not None:
        print(f"server (batched) / in-process p50 at concurrency {levels[0]}: {ratio:.2f} (goal <= 1.15)")
        print(f"server batched / unbatched queries/s at concurrency {max(levels)}: {speedup:.2f} (goal >= 2)")
        if args.workers > 1:
            many = by[(max(levels), f"server /search ({BATCHED}, {args.workers} workers)")]["qps"]
            one = by[(max(levels), f"server /search ({BATCHED})")]["qps"]
            print(f"{args.workers} workers / 1 worker queries/s at concurrency {max(levels)}: {many / one:.2f}")
    print(f"errors: {errors}")
    payload = {
        "config": {
            "documents": indexed["documents"],
            "chunks": indexed["chunks"],
            "queries": len(queries),
            "k": args.k,
            "mode": args.mode,
            "model": settings.model,
            "backend": collection.backend,
            "threads": settings.threads,
            "cpus": os.cpu_count(),
        },
        "index": indexed,
        "rows": rows,
        "ratio_p50_c1": ratio,
        "batched_over_unbatched_qps_at_max_concurrency": speedup,
        "backend": collection.backend,
        "sql_statements_per_search": sql,
        "batching": batching,
        "errors": errors,
    }
    path = write_results(args.results, payload)
    print(f"wrote {path}", file=sys.stderr)
    return payload


def measure_batching(encoder: Any, queries: Sequence[str], port: int, name: str, k: int, mode: str) -> dict[str, Any]:
    """Queries/s, 16 queries at a time: 16 concurrent single encodes/requests vs one batched call.

    In-process: 16 threads each calling encode([q]) vs one encode(16 queries). Server: 16 concurrent
    /search requests vs one /search/batch of 16. The variants alternate group by group.
    """
    from latent_client import LatentClient

    groups = [list(queries[i : i + 16]) for i in range(0, len(queries) - 15, 16)]
    seconds = dict.fromkeys(
        ("encode x16 threads", "encode one call of 16", "server 16 x /search", "server /search/batch of 16"),
        0.0,
    )
    errors = 0
    local = threading.local()

    def client() -> LatentClient:
        if getattr(local, "client", None) is None:
            local.client = LatentClient(f"http://127.0.0.1:{port}")
        return local.client

    def one_request(query: str) -> int:
        return len(client().search(name, query, k=k, mode=mode).hits)

    def timed(label: str, fn: Callable[[], Any]) -> Any:
        start = time.perf_counter()
        out = fn()
        seconds[label] += time.perf_counter() - start
        return out

    with ThreadPoolExecutor(16) as pool:
        list(pool.map(one_request, groups[0]))  # open the 16 connections
        for i, group in enumerate(groups):
            variants = [
                ("encode x16 threads", lambda g=group: list(pool.map(lambda q: encoder.encode([q]), g))),
                ("encode one call of 16", lambda g=group: encoder.encode(g)),
                ("server 16 x /search", lambda g=group: list(pool.map(one_request, g))),
                (
                    "server /search/batch of 16",
                    lambda g=group: [len(r.hits) for r in client().search_batch(name, g, k=k, mode=mode).results],
                ),
            ]
            for label, fn in variants if i % 2 == 0 else variants[::-1]:
                out = timed(label, fn)
                if label.startswith("server"):
                    errors += sum(n != k for n in out)
    n = sum(len(g) for g in groups)
    table = {label: n / secs for label, secs in seconds.items()}
    table["in-process batched/threads"] = table["encode one call of 16"] / table["encode x16 threads"]
    table["server batch/concurrent"] = table["server /search/batch of 16"] / table["server 16 x /search"]
    return {"errors": errors, "queries": n, "table": table}


if __name__ == "__main__":
    main()
