"""Indexing overhead: raw SentenceTransformer.encode vs `latent index` end to end, same texts, same run.

    python bench/indexing.py [--corpus DIR] [--limit N] [--batch-size 64] [--json]

Prints docs/s and tokens/s for both and their ratio (latent / raw). Latent chunks documents longer than
the model's window instead of truncating them, so it embeds more tokens than raw encode; the tokens/s
ratio is the overhead figure, the docs/s ratio is shown beside it.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from _common import SCIFACT, load_corpus, print_table, write_results  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--corpus", type=Path, default=SCIFACT)
    parser.add_argument("--limit", type=int, default=None)
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--backend", default="torch")
    parser.add_argument("--json", action="store_true", help="also write bench/results/indexing.json")
    args = parser.parse_args()

    from indexer.pipeline import index_documents
    from indexer.sources import iter_source
    from latent.config import get_settings
    from latent.store.store import Store

    records = load_corpus(args.corpus, args.limit)
    texts = [f"{r.get('title', '')} {r['text']}".strip() for r in records]
    with tempfile.TemporaryDirectory() as home:
        settings = get_settings(home=Path(home), batch_size=args.batch_size, backend=args.backend)
        store = Store.open(settings)
        encoder = store.encoder()
        encoder.encode(texts[:32])  # warm-up: first-call allocations are not what we measure

        window = encoder.max_seq_length
        raw_tokens = sum(min(len(ids) + encoder.special_tokens, window) for ids in
                         (t.ids for t in encoder.tokenize(texts)))
        start = time.perf_counter()
        encoder.encode(texts, batch_size=args.batch_size)
        raw_seconds = time.perf_counter() - start

        corpus_file = Path(home) / "corpus.jsonl"
        import json

        corpus_file.write_text("".join(json.dumps(r) + "\n" for r in records))
        start = time.perf_counter()
        summary = index_documents(store, "bench", iter_source(str(corpus_file)), progress=True, total=len(records))
        latent_seconds = time.perf_counter() - start
        chunks = summary.chunks
        latent_tokens = summary.tokens + chunks * encoder.special_tokens
        store.close()

    rows = [
        {"pipeline": "raw encode", "docs": len(texts), "vectors": len(texts), "seconds": raw_seconds,
         "docs/s": len(texts) / raw_seconds, "tokens/s": raw_tokens / raw_seconds},
        {"pipeline": "latent index", "docs": summary.indexed, "vectors": chunks, "seconds": latent_seconds,
         "docs/s": summary.indexed / latent_seconds, "tokens/s": latent_tokens / latent_seconds},
    ]
    ratio_tokens = rows[1]["tokens/s"] / rows[0]["tokens/s"]
    ratio_docs = rows[1]["docs/s"] / rows[0]["docs/s"]
    print_table(f"Indexing vs raw encode ({args.backend}, batch {args.batch_size})", rows)
    print(f"ratio latent/raw: tokens/s {ratio_tokens:.3f}   docs/s {ratio_docs:.3f}")
    if args.json:
        path = write_results("indexing", {"rows": rows, "ratio_tokens_per_s": ratio_tokens,
                                          "ratio_docs_per_s": ratio_docs, "backend": args.backend,
                                          "batch_size": args.batch_size, "corpus": str(args.corpus)})
        print(f"wrote {path}")


if __name__ == "__main__":
    main()
