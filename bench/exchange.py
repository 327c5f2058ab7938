"""Parquet export and import of a built collection: throughput, file size, and what reusing vectors saves.

    python bench/exchange.py --home /tmp/exch/home --collection scifact [--embed-limit 1000] [--json]

The collection must exist (build it once, e.g. `LATENT_BACKEND=openvino-int8 latent --home H index
../shared/data/scifact/corpus.jsonl -c scifact`). In one run: `export_collection` to a temporary file
(docs/s, MB, bytes per document); pandas' `read_parquet` of that file; the import with reuse (the file's
vectors stored as they are) into a fresh collection; the import with re-embedding (the same file and
path, vectors ignored) of the first `--embed-limit` rows into another. Both imports go through
`indexer.sources.parquet_items` and `indexer.pipeline.index_documents`, what `latent index FILE.parquet`
runs; the ratio is reuse docs/s over re-embed docs/s. The scratch collections are dropped at the end.
"""

from __future__ import annotations

import argparse
import itertools
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench._common import print_table, write_results  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--home", type=Path, default=None, help="data home holding the collection")
    parser.add_argument("--collection", default="scifact")
    parser.add_argument("--batch-docs", type=int, default=1000, help="documents per row group and per import batch")
    parser.add_argument("--embed-limit", type=int, default=1000, help="rows the re-embedding import takes (0: all)")
    parser.add_argument("--json", action="store_true", help="also write bench/results/exchange.json")
    args = parser.parse_args()

    from indexer.pipeline import index_documents
    from indexer.sources import FieldMap, parquet_items
    from latent.config import get_settings
    from latent.exchange import ParquetDocuments, export_collection
    from latent.store.store import Store

    settings = get_settings(**({"home": args.home} if args.home else {}))
    store = Store.open(settings)
    source = store.collection(args.collection)
    rows: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / f"{args.collection}.parquet"
        summary = export_collection(source, path, batch_docs=args.batch_docs)
        size = path.stat().st_size
        rows.append(_row("export", summary.documents, summary.seconds, chunks=summary.chunks))
        rows[-1].update({"MB": round(size / 1e6, 2), "bytes/doc": round(size / max(summary.documents, 1))})

        pandas_seconds = _pandas_read(path)
        if pandas_seconds is not None:
            rows.append(_row("pandas read_parquet", summary.documents, pandas_seconds))

        runs = {"import, vectors reused": (True, None), "import, re-embedded": (False, args.embed_limit or None)}
        names = []
        for label, (reuse, limit) in runs.items():
            name = f"{args.collection}-bench-{'reuse' if reuse else 'embed'}"
            names.append(name)
            _drop(store, name)
            store.create_collection(name, model=source.model, backend=source.backend, index=source.index_spec)
            reader = ParquetDocuments(path, batch_rows=args.batch_docs)
            items = parquet_items(reader, FieldMap(), reuse_vectors=reuse)
            if limit is not None:
                items = itertools.islice(items, limit)
            start = time.perf_counter()
            done = index_documents(store, name, items, batch_docs=args.batch_docs, progress=False)
            seconds = time.perf_counter() - start  # the job's own time plus its checkpoint
            rows.append(_row(label, done.indexed, seconds, chunks=done.chunks))
            print(f"{label}: {done.indexed} docs in {seconds:.1f}s", file=sys.stderr)
        for name in names:
            _drop(store, name)
    store.close()

    reuse_rate, embed_rate = rows[-2]["docs/s"], rows[-1]["docs/s"]
    ratio = round(reuse_rate / embed_rate, 1) if embed_rate else None
    print_table(f"Parquet exchange: {args.collection} ({source.model} on {source.backend})", rows)
    print(f"import with reused vectors is {ratio}x the import that embeds again")
    if args.json:
        payload = {
            "collection": args.collection,
            "model": source.model,
            "backend": source.backend,
            "batch_docs": args.batch_docs,
            "rows": rows,
            "reuse_over_embed": ratio,
        }
        print(f"wrote {write_results('exchange', payload)}")


def _row(step: str, docs: int, seconds: float, chunks: int | None = None) -> dict[str, Any]:
    return {
        "step": step,
        "docs": docs,
        "chunks": chunks if chunks is not None else "",
        "seconds": round(seconds, 2),
        "docs/s": round(docs / seconds, 1) if seconds else 0.0,
        "MB": "",
        "bytes/doc": "",
    }


def _pandas_read(path: Path) -> float | None:
    try:
        import pandas as pd
    except ImportError:
        return None
    start = time.perf_counter()
    pd.read_parquet(path)
    return time.perf_counter() - start


def _drop(store: Any, name: str) -> None:
    from latent.errors import NotFound

    try:
        store.drop_collection(name)
    except NotFound:
        pass


if __name__ == "__main__":
    main()
