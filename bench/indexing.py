"""Indexing overhead: `latent index` end to end vs raw encode of exactly the texts it embeds, same run.

    python bench/indexing.py [--corpus DIR] [--limit N] [--batch-size 64] [--backend openvino-int8] [--json]

Latent chunks documents longer than the model's window (title-prefixed, overlapping windows) instead of
truncating them, so the fair baseline is the encoder alone on those same chunk texts: same vectors,
same tokens. The chunk texts are computed untimed, then encoded raw before and after the indexing run
(their mean is the baseline, so drift on a shared machine hits both sides). The ratio is latent's
throughput over raw encode's (1.0 = no overhead): tokenizing, chunking, hashing, SQL writes (with the
FTS5 index), FAISS adds and the checkpoint are all inside it.
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

from _common import SCIFACT, load_corpus, print_table, write_results  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--corpus", type=Path, default=SCIFACT)
    parser.add_argument("--limit", type=int, default=None)
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--backend", default="torch")
    parser.add_argument(
        "--compare-sequential", action="store_true", help="also index without overlapping embedding and writing"
    )
    parser.add_argument("--json", action="store_true", help="also write bench/results/indexing[-BACKEND].json")
    args = parser.parse_args()

    from indexer.pipeline import index_documents
    from indexer.sources import iter_source
    from latent.config import get_settings
    from latent.store.records import DocumentInput
    from latent.store.store import Store

    records = load_corpus(args.corpus, args.limit)
    with tempfile.TemporaryDirectory() as home:
        settings = get_settings(home=Path(home), batch_size=args.batch_size, backend=args.backend)
        store = Store.open(settings)
        encoder = store.encoder()
        collection = store.create_collection("bench")
        docs = [DocumentInput(id=str(r["_id"]), title=r.get("title", ""), text=r["text"]) for r in records]
        texts = [c.text for chunks in collection.chunk(docs) for c in chunks]
        tokens = sum(min(len(t.ids) + encoder.special_tokens, encoder.max_seq_length) for t in encoder.tokenize(texts))
        encoder.encode(texts[:32])  # warm-up: first-call allocations are not what we measure

        def raw() -> float:
            start = time.perf_counter()
            encoder.encode(texts, batch_size=args.batch_size)
            return time.perf_counter() - start

        corpus_file = Path(home) / "corpus.jsonl"
        corpus_file.write_text("".join(json.dumps(r) + "\n" for r in records))

        def latent(name: str, pipelined: bool) -> tuple[float, Any]:
            start = time.perf_counter()
            summary = index_documents(
                store, name, iter_source(str(corpus_file)), progress=True, total=len(records), pipelined=pipelined
            )
            return time.perf_counter() - start, summary

        raw_before = raw()
        latent_seconds, summary = latent("bench", pipelined=True)
        if args.compare_sequential:
            sequential_seconds, _ = latent("bench-sequential", pipelined=False)
        raw_after = raw()
        store.close()

    raw_seconds = (raw_before + raw_after) / 2
    assert summary.chunks == len(texts), (summary.chunks, len(texts))  # the same work on both sides
    rows = [
        {
            "pipeline": "raw encode (before)",
            "seconds": raw_before,
            "vectors/s": len(texts) / raw_before,
            "tokens/s": tokens / raw_before,
            "docs/s": len(records) / raw_before,
        },
        {
            "pipeline": "raw encode (after)",
            "seconds": raw_after,
            "vectors/s": len(texts) / raw_after,
            "tokens/s": tokens / raw_after,
            "docs/s": len(records) / raw_after,
        },
        {
            "pipeline": "latent index",
            "seconds": latent_seconds,
            "vectors/s": len(texts) / latent_seconds,
            "tokens/s": tokens / latent_seconds,
            "docs/s": summary.indexed / latent_seconds,
        },
    ]
    if args.compare_sequential:
        rows.append(
            {
                "pipeline": "latent index, no overlap",
                "seconds": sequential_seconds,
                "vectors/s": len(texts) / sequential_seconds,
                "tokens/s": tokens / sequential_seconds,
                "docs/s": summary.indexed / sequential_seconds,
            }
        )
    ratio = raw_seconds / latent_seconds
    print_table(
        f"latent index vs raw encode, {len(records)} docs -> {len(texts)} chunks "
        f"({args.backend}, batch {args.batch_size})",
        rows,
    )
    print(f"throughput ratio latent / raw encode: {ratio:.3f}")
    extra = {}
    if args.compare_sequential:
        extra["ratio_without_overlap"] = raw_seconds / sequential_seconds
        print(f"without overlapping embedding and writing: {extra['ratio_without_overlap']:.3f}")
    if args.json:
        name = "indexing" if args.backend == "torch" else f"indexing-{args.backend}"
        path = write_results(
            name,
            {
                "rows": rows,
                "ratio": ratio,
                "docs": len(records),
                "chunks": len(texts),
                "tokens": tokens,
                "backend": args.backend,
                "batch_size": args.batch_size,
                "corpus": str(args.corpus),
                **extra,
            },
        )
        print(f"wrote {path}")


if __name__ == "__main__":
    main()
