"""`bench/indexing.py --engine ray`: both engines in the same run, and the writer's own absorb rate.

    python bench/indexing.py --engine ray [--model fake] [--backend openvino-int8] [--limit 1000] [--workers N]

Rows: the local engine (`index_documents`, one process), the Ray engine (`index_with_ray` on a local
Ray of all cores; Ray's start-up is timed apart), the encoder alone on the chunk texts (vectors/s per
process), and the single writer alone: `Collection.write_plan` fed prepared documents whose vectors are
random (no encoder in the loop), which is the most vectors/s one store writer can take however many
workers embed. Writer rate / per-worker encoder rate = how many workers one writer can feed.
Peak RSS of this (the writer's) process is reported too.
"""

from __future__ import annotations

import argparse
import json
import resource
import tempfile
import time
from pathlib import Path
from typing import Any

from bench._common import load_corpus, print_table, write_results


def run(args: argparse.Namespace) -> None:
    from indexer.pipeline import index_documents
    from indexer.ray_engine import RayOptions, connect, index_with_ray
    from indexer.sources import FieldMap, iter_source
    from latent.config import get_settings
    from latent.ingest.planning import chunk
    from latent.store.store import Store

    records = load_corpus(args.corpus, args.limit)
    with tempfile.TemporaryDirectory() as home:
        settings = get_settings(home=Path(home), batch_size=args.batch_size, backend=args.backend, model=args.model)
        corpus_file = Path(home) / "corpus.jsonl"
        corpus_file.write_text("".join(json.dumps(r) + "\n" for r in records))
        store = Store.open(settings)
        probe = store.create_collection("chunk-probe")
        docs = list(iter_source(str(corpus_file)))
        texts = [c.text for chunks in chunk(probe, docs) for c in chunks]
        encoder = probe.encoder
        tokens = sum(min(len(t.ids) + encoder.special_tokens, encoder.max_seq_length) for t in encoder.tokenize(texts))
        encoder.encode(texts[:32])
        started = time.perf_counter()
        ray = connect(args.ray_address)
        ray_start = time.perf_counter() - started
        seconds: dict[str, float] = {}
        summaries: dict[str, Any] = {}
        for r in range(args.rounds):
            order = ["latent index (local)", "latent index (ray)"]
            for name in order[r % 2 :] + order[: r % 2]:
                start = time.perf_counter()
                if name.endswith("(local)"):
                    summary = index_documents(store, f"local-{r}", iter_source(str(corpus_file)), progress=False)
                else:
                    summary = index_with_ray(
                        store, f"ray-{r}", str(corpus_file), FieldMap(), RayOptions(args.ray_address, args.workers),
                        progress=False,
                    )  # fmt: skip
                seconds[name] = seconds.get(name, 0.0) + time.perf_counter() - start
                assert summary.chunks == len(texts), (name, summary.chunks, len(texts))
                summaries[name] = summary
                print(f"round {r + 1}/{args.rounds}  {name:<22} {time.perf_counter() - start:6.1f} s", flush=True)
        start = time.perf_counter()
        for _ in range(args.rounds):
            encoder.encode(texts, batch_size=args.batch_size)
        seconds["raw encode (this process)"] = time.perf_counter() - start
        writer_s, written = writer_rate(store, probe.plan_upsert(docs), args.rounds)
        seconds["writer alone (random vectors)"] = writer_s
        workers = int(args.workers or max(1, int(ray.cluster_resources().get("CPU", 1)) - 1))
        store.close()
    peak_rss_mib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    rows = [
        {
            "pipeline": name,
            "seconds": total,
            "docs/s": args.rounds * len(records) / total,
            "vectors/s": args.rounds * len(texts) / total,
            "tokens/s": args.rounds * tokens / total if "writer" not in name else 0.0,
        }
        for name, total in seconds.items()
    ]
    encode_rate = rows[2]["vectors/s"]
    writer_vps = rows[3]["vectors/s"]
    print_table(
        f"local vs ray engine: {len(records)} docs -> {len(texts)} chunks, {args.rounds} rounds "
        f"({args.model or 'default model'} on {args.backend}, {workers} ray workers)",
        rows,
    )
    print(f"ray start-up (not in the times above): {ray_start:.1f} s")
    print(f"ray / local throughput: {seconds['latent index (local)'] / seconds['latent index (ray)']:.3f}")
    print(f"one writer absorbs {writer_vps:.0f} vectors/s = {writer_vps / encode_rate:.1f}x this process's encoder")
    print(f"peak RSS of the writer process: {peak_rss_mib:.0f} MiB")
    if args.json:
        name = f"indexing-ray-{args.model or 'default'}-{args.backend}".replace(":", "-")
        result = {
            "rows": rows,
            "docs": len(records),
            "chunks": len(texts),
            "tokens": tokens,
            "written_per_round": written,
            "rounds": args.rounds,
            "model": args.model,
            "backend": args.backend,
            "workers": workers,
            "ray_start_seconds": ray_start,
            "writer_vs_encoder": writer_vps / encode_rate,
            "peak_rss_mib": peak_rss_mib,
            "corpus": str(args.corpus),
        }
        print(f"wrote {write_results(name, result)}")


def writer_rate(store: Any, plan: Any, rounds: int) -> tuple[float, int]:
    """Seconds `Collection.write_plan` takes for the corpus's chunks with random vectors, `rounds` times."""
    import numpy as np

    from latent.records import UpsertPlan
    from latent.vectors import unit_rows

    rng = np.random.default_rng(0)
    for p in plan.prepared:
        p.vectors = unit_rows(rng.standard_normal(p.vectors.shape).astype(np.float32))
    total = 0.0
    for r in range(rounds):
        target = store.create_collection(f"writer-{r}")
        start = time.perf_counter()
        for i in range(0, len(plan.prepared), 256):
            target.write_plan(UpsertPlan(plan.prepared[i : i + 256], [], []))
        target.checkpoint()
        total += time.perf_counter() - start
    return total, len(plan.prepared)
