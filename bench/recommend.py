"""Recommend latency over HTTP (5 positives + 2 negatives, each strategy) next to plain search, one run.

Indexes SciFact (or its first --limit documents; an existing collection is reused, unchanged documents are
skipped by hash), starts `uvicorn service.main:create_app` on a free port, and sends recommend requests
(5 positive and 2 negative stored ids drawn at random, seeded) for each strategy at each concurrency. The
baselines in the same run: /search with a SciFact query text (encode + FAISS) and with a precomputed query
vector (FAISS only), plus `recommend_documents` in-process (no HTTP) at concurrency 1. All sides take turns
on blocks of requests (rotating who goes first), so a load spike on a shared machine hits them alike.

    .venv/bin/python bench/recommend.py --limit 1000
"""

from __future__ import annotations

import argparse
import os
import random
import sys
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from search import free_port, index_collection, load_queries  # noqa: E402

from bench._common import add_server_arguments, print_table, start_server, write_results  # noqa: E402

STRATEGIES = ("average_vector", "best_score", "sum_scores")


def example_sets(ids: list[str], n: int, seed: int) -> list[tuple[list[str], list[str]]]:
    """n requests, each 5 positive and 2 negative distinct stored ids."""
    rng = random.Random(seed)
    sets = []
    for _ in range(n):
        chosen = rng.sample(ids, 7)
        sets.append((chosen[:5], chosen[5:]))
    return sets


def timed_calls(call: Callable[[Any], bool], items: Sequence[Any], concurrency: int) -> tuple[list[float], int]:
    """Every item once, `concurrency` at a time: per-call latencies (s) and how many failed."""

    def one(item: Any) -> tuple[float, bool]:
        start = time.perf_counter()
        try:
            ok = call(item)
        except Exception as exc:  # counted and reported, never hidden
            print(f"error: {exc!r}", file=sys.stderr)
            ok = False
        return time.perf_counter() - start, ok

    with ThreadPoolExecutor(concurrency) as pool:
        results = list(pool.map(one, items))
    return [r[0] for r in results], sum(not r[1] for r in results)


def interleaved(
    sides: dict[str, tuple[Callable[[Any], bool], Sequence[Any]]], concurrency: int, blocks: int = 8
) -> dict[str, dict[str, Any]]:
    """Each side on its own items, block by block, the sides taking turns (rotating who goes first)."""
    latencies: dict[str, list[float]] = {name: [] for name in sides}
    errors = dict.fromkeys(sides, 0)
    busy = dict.fromkeys(sides, 0.0)
    for call, items in sides.values():  # warm: connections, caches, the server's thread pool
        timed_calls(call, items[:concurrency], concurrency)
    names = list(sides)
    for b in range(blocks):
        order = names[b % len(names) :] + names[: b % len(names)]
        for name in order:
            call, items = sides[name]
            size = -(-len(items) // blocks)
            start = time.perf_counter()
            took, failed = timed_calls(call, items[b * size : (b + 1) * size], concurrency)
            busy[name] += time.perf_counter() - start
            latencies[name] += took
            errors[name] += failed
    out = {}
    for name in names:
        ms = np.asarray(latencies[name]) * 1000
        out[name] = {
            "p50_ms": float(np.percentile(ms, 50)),
            "p95_ms": float(np.percentile(ms, 95)),
            "p99_ms": float(np.percentile(ms, 99)),
            "qps": len(ms) / busy[name],
            "errors": errors[name],
        }
    return out


def main(argv: list[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_server_arguments(parser)
    parser.add_argument("--requests", type=int, default=200, help="requests per measurement")
    parser.add_argument("--k", type=int, default=10, help="hits per request")
    parser.add_argument("--concurrency", default="1,8", help="comma-separated client concurrencies")
    parser.add_argument("--seed", type=int, default=0, help="seed of the example draws")
    parser.add_argument(
        "--blas-threads",
        type=int,
        default=0,
        help="BLAS threads in the server and in-process (0: the library default; results then go to "
        "recommend.json, else recommend-blasN.json)",
    )
    args = parser.parse_args(argv)

    from latent.config import force_offline, get_settings

    force_offline()
    settings = get_settings(home=args.home, model=args.model)
    home = settings.home.resolve()
    name = args.collection or ("scifact" if args.limit is None else f"scifact-{args.limit}")
    levels = [int(c) for c in args.concurrency.split(",")]
    indexed = index_collection(home, settings.model, name, args.limit, args.data)
    print(f"{indexed['documents']} documents in {name!r} ({indexed['seconds']} s)", file=sys.stderr)

    import faiss

    from latent.recommend.runs import recommend_documents
    from latent.store.store import Store

    faiss.omp_set_num_threads(settings.faiss_threads)  # as the server does
    if args.blas_threads:
        # NumPy's BLAS spin-waits like FAISS's OpenMP when requests run concurrently on busy cores.
        from threadpoolctl import threadpool_limits

        threadpool_limits(args.blas_threads, user_api="blas")
        for var in ("OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):  # the server inherits the environment
            os.environ[var] = str(args.blas_threads)
    store = Store(settings)
    collection = store.collection(name)
    ids, _ = collection.all_document_vectors()
    examples = example_sets(ids, args.requests, args.seed)
    queries = load_queries(args.data, args.requests)
    query_vectors = [v.tolist() for v in collection.encoder.encode(queries)]

    from latent_client import LatentClient

    port = free_port()
    server = start_server(home, settings.model, port)
    local = threading.local()
    expected = min(args.k, indexed["documents"] - 7)

    def client() -> LatentClient:
        if getattr(local, "client", None) is None:
            local.client = LatentClient(f"http://127.0.0.1:{port}")
        return local.client

    def search_text(query: str) -> bool:
        return len(client().search(name, query, k=args.k).hits) == min(args.k, indexed["documents"])

    def search_vector(vector: list[float]) -> bool:
        return len(client().search(name, vector=vector, k=args.k).hits) == min(args.k, indexed["documents"])

    def over_http(strategy: str) -> Any:
        def call(example: tuple[list[str], list[str]]) -> bool:
            hits = client().recommend(name, example[0], example[1], k=args.k, strategy=strategy).hits
            return len(hits) == expected

        return call

    def in_process(strategy: str) -> Any:
        def call(example: tuple[list[str], list[str]]) -> bool:
            hits = recommend_documents(collection, example[0], example[1], args.k, strategy=strategy).hits
            return len(hits) == expected

        return call

    rows: list[dict[str, Any]] = []
    try:
        for c in levels:
            sides: dict[str, tuple[Callable[[Any], bool], Sequence[Any]]] = {
                "search|text query": (search_text, queries),
                "search|vector query": (search_vector, query_vectors),
            }
            for strategy in STRATEGIES:
                sides[f"recommend 5+/2-|{strategy}"] = (over_http(strategy), examples)
            measured = interleaved(sides, c)
            base = measured["search|vector query"]["p50_ms"]
            for key, stats in measured.items():
                endpoint, variant = key.split("|")
                rows.append(
                    {
                        "concurrency": c,
                        "endpoint": endpoint,
                        "variant": variant,
                        **stats,
                        "p50_vs_vector_search": stats["p50_ms"] / base,
                    }
                )
            print(
                f"c={c}: " + ", ".join(f"{k} p50 {v['p50_ms']:.1f} ms" for k, v in measured.items()),
                file=sys.stderr,
            )
        local_sides = {f"in-process recommend|{s}": (in_process(s), examples) for s in STRATEGIES}
        for key, stats in interleaved(local_sides, 1).items():
            endpoint, variant = key.split("|")
            rows.append(
                {
                    "concurrency": 1,
                    "endpoint": endpoint,
                    "variant": variant,
                    **stats,
                    "p50_vs_vector_search": None,
                }
            )
    finally:
        server.terminate()
        server.wait(timeout=30)
        store.close()

    errors = sum(r["errors"] for r in rows)
    os.environ.setdefault("COLUMNS", "170")  # a wide table even when stdout is not a terminal
    print_table(f"Recommend vs search latency, {indexed['documents']} SciFact docs, k={args.k}", rows)
    print(f"errors: {errors}; the machine may be shared: treat the figures as noisy")
    payload = {
        "config": {
            "documents": indexed["documents"],
            "chunks": indexed["chunks"],
            "requests": args.requests,
            "k": args.k,
            "examples": "5 positive + 2 negative stored ids, drawn at random",
            "model": settings.model,
            "cpus": os.cpu_count(),
            "blas_threads": args.blas_threads or "library default",
            "load_average_at_end": os.getloadavg(),
        },
        "index": indexed,
        "rows": rows,
        "errors": errors,
    }
    path = write_results(f"recommend-blas{args.blas_threads}" if args.blas_threads else "recommend", payload)
    print(f"wrote {path}", file=sys.stderr)
    return payload


if __name__ == "__main__":
    main()
