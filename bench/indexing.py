"""Indexing overhead: `latent index` end to end vs raw encode of exactly the texts it embeds, same run.

    python bench/indexing.py [--corpus DIR] [--limit N] [--backend openvino-int8] [--rounds 3] [--json]
    python bench/indexing.py --engine ray [--model fake] ...   (local vs Ray engine: bench/ray_indexing.py)

Latent chunks documents longer than the model's window (title-prefixed, overlapping windows) instead of
truncating them, so the fair baseline is the encoder alone on those same chunk texts: same vectors,
same tokens. The chunk texts are computed untimed. Then, for `--rounds` rounds, raw encode and
`latent index` (into a fresh collection each round; with `--compare-sequential` also without
overlapping embedding and writing) run in an order that rotates every round, so the load swings of a
shared machine (±10% between back-to-back runs here) hit every pipeline alike; times are summed over
rounds. The ratio is latent's throughput over raw encode's (1.0 = no overhead): tokenizing, chunking,
hashing, SQL writes (with the FTS5 index), FAISS adds and the checkpoint are all inside it.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench._common import SCIFACT, load_corpus, print_table, write_results  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--corpus", type=Path, default=SCIFACT)
    parser.add_argument("--limit", type=int, default=None)
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--backend", default="torch")
    parser.add_argument("--rounds", type=int, default=3, help="alternating rounds; times are summed")
    parser.add_argument(
        "--compare-sequential", action="store_true", help="also index without overlapping embedding and writing"
    )
    parser.add_argument("--json", action="store_true", help="also write bench/results/indexing[-BACKEND].json")
    parser.add_argument("--engine", choices=["local", "ray"], default="local", help="ray: both engines, same run")
    parser.add_argument("--model", default=None, help="--engine ray: model (e.g. fake; default LATENT_MODEL)")
    parser.add_argument("--workers", type=int, default=None, help="--engine ray: encoder actors")
    parser.add_argument("--ray-address", default=None, help="--engine ray: cluster (default: a local Ray)")
    args = parser.parse_args()
    if args.engine == "ray":
        from bench.ray_indexing import run

        return run(args)

    from indexer.pipeline import index_documents
    from indexer.sources import iter_source
    from latent.config import get_settings
    from latent.records import DocumentInput
    from latent.store.store import Store

    records = load_corpus(args.corpus, args.limit)
    with tempfile.TemporaryDirectory() as home:
        settings = get_settings(home=Path(home), batch_size=args.batch_size, backend=args.backend)
        store = Store.open(settings)
        encoder = store.encoder()
        probe = store.create_collection("chunk-probe")
        docs = [DocumentInput(id=str(r["_id"]), title=r.get("title", ""), text=r["text"]) for r in records]
        texts = [c.text for chunks in probe.chunk(docs) for c in chunks]
        tokens = sum(min(len(t.ids) + encoder.special_tokens, encoder.max_seq_length) for t in encoder.tokenize(texts))
        encoder.encode(texts[:32])  # warm-up: first-call allocations are not what we measure
        corpus_file = Path(home) / "corpus.jsonl"
        corpus_file.write_text("".join(json.dumps(r) + "\n" for r in records))
        summaries: list[Any] = []

        def raw(_round: int) -> None:
            encoder.encode(texts, batch_size=args.batch_size)

        def latent(round_: int, pipelined: bool = True) -> None:
            name = f"bench-{round_}-{'pipelined' if pipelined else 'sequential'}"
            source = iter_source(str(corpus_file))
            summary = index_documents(store, name, source, progress=False, total=len(records), pipelined=pipelined)
            assert summary.chunks == len(texts), (summary.chunks, len(texts))  # the same work on both sides
            summaries.append(summary)

        pipelines = {"raw encode": raw, "latent index": latent}
        if args.compare_sequential:
            pipelines["latent index, no overlap"] = lambda r: latent(r, pipelined=False)
        seconds = dict.fromkeys(pipelines, 0.0)
        names = list(pipelines)
        for r in range(args.rounds):
            for name in names[r % len(names) :] + names[: r % len(names)]:
                start = time.perf_counter()
                pipelines[name](r)
                took = time.perf_counter() - start
                seconds[name] += took
                print(f"round {r + 1}/{args.rounds}  {name:<26} {took:6.1f} s", flush=True)
        store.close()

    rows = [
        {
            "pipeline": name,
            "seconds": total,
            "vectors/s": args.rounds * len(texts) / total,
            "tokens/s": args.rounds * tokens / total,
            "docs/s": args.rounds * len(records) / total,
            "vs raw encode": seconds["raw encode"] / total,
        }
        for name, total in seconds.items()
    ]
    print_table(
        f"latent index vs raw encode: {len(records)} docs -> {len(texts)} chunks, {args.rounds} rounds "
        f"({args.backend}, batch {args.batch_size})",
        rows,
    )
    ratio = seconds["raw encode"] / seconds["latent index"]
    print(f"throughput ratio latent index / raw encode: {ratio:.3f}")
    if args.json:
        name = "indexing" if args.backend == "torch" else f"indexing-{args.backend}"
        result = {
            "rows": rows,
            "ratio": ratio,
            "docs": len(records),
            "chunks": len(texts),
            "tokens": tokens,
            "rounds": args.rounds,
            "backend": args.backend,
            "batch_size": args.batch_size,
            "corpus": str(args.corpus),
        }
        print(f"wrote {write_results(name, result)}")


if __name__ == "__main__":
    main()
