"""Helpers shared by the benchmarks: SciFact loading, timing, the results table and JSON output."""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import numpy as np

SCIFACT = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "scifact"
RESULTS = Path(__file__).resolve().parent / "results"
ROOT = Path(__file__).resolve().parents[1]


def load_corpus(folder: Path = SCIFACT, limit: int | None = None) -> list[dict[str, Any]]:
    docs = []
    with open(folder / "corpus.jsonl", encoding="utf-8") as fh:
        for line in fh:
            if line.strip():
                docs.append(json.loads(line))
                if limit and len(docs) >= limit:
                    break
    return docs


def doc_text(record: dict[str, Any]) -> str:
    """What a truncating indexer would embed for a BEIR record: title and text."""
    return f"{record.get('title') or ''} {record.get('text') or ''}".strip()


def corpus_texts(folder: Path = SCIFACT, limit: int | None = None) -> list[str]:
    return [doc_text(r) for r in load_corpus(folder, limit)]


EMBEDDINGS_CACHE = Path("/tmp/latent-bench")


def embeddings_for(docs: list[dict[str, Any]], path: Path | None, model: str) -> np.ndarray:
    """Vectors of `docs`: from --embeddings, from the /tmp cache (any prefix of it), else from the model."""
    import numpy as np

    if path is not None:
        vectors = np.load(path)
        if len(vectors) < len(docs):
            sys.exit(f"{path} has {len(vectors)} rows, fewer than the {len(docs)} documents asked for")
        return vectors[: len(docs)].astype(np.float32)
    safe = model.replace("/", "_")
    pattern = f"scifact-{safe}-*.npy"
    for cached in sorted(EMBEDDINGS_CACHE.glob(pattern), key=lambda p: -int(p.stem.rsplit("-", 1)[1])):
        if int(cached.stem.rsplit("-", 1)[1]) >= len(docs):
            print(f"using cached embeddings {cached}", file=sys.stderr)
            return np.load(cached)[: len(docs)].astype(np.float32)
    from latent.config import get_settings
    from latent.embedder import load_encoder

    print(f"encoding {len(docs)} documents with {model} (cached for next time)...", file=sys.stderr)
    encoder = load_encoder(get_settings(), model=model)
    vectors = encoder.encode([doc_text(d) for d in docs])
    EMBEDDINGS_CACHE.mkdir(parents=True, exist_ok=True)
    np.save(EMBEDDINGS_CACHE / f"scifact-{safe}-{len(docs)}.npy", vectors)
    return vectors.astype(np.float32)


def add_server_arguments(parser: argparse.ArgumentParser, collection: bool = True) -> None:
    """The options of the benchmarks that index SciFact and measure it through a running server."""
    parser.add_argument("--data", type=Path, default=SCIFACT, help="BEIR SciFact folder")
    parser.add_argument("--limit", type=int, default=None, help="index the first N documents (default: all)")
    parser.add_argument("--home", type=Path, default=None, help="data home (default: LATENT_HOME or .latent)")
    parser.add_argument("--model", default=None, help="model (default: LATENT_MODEL or all-MiniLM-L6-v2)")
    if collection:
        parser.add_argument("--collection", default=None, help="collection (default: scifact or scifact-N)")


def print_table(title: str, rows: list[dict[str, Any]]) -> None:
    from rich.console import Console
    from rich.table import Table

    if not rows:
        return
    table = Table(title=title)
    for key in rows[0]:
        table.add_column(str(key))
    for row in rows:
        table.add_row(*[f"{v:.4g}" if isinstance(v, float) else str(v) for v in row.values()])
    Console().print(table)


def write_results(name: str, payload: dict[str, Any]) -> Path:
    RESULTS.mkdir(parents=True, exist_ok=True)
    payload = {
        "benchmark": name,
        "machine": platform.processor() or platform.machine(),
        "when": time.strftime("%Y-%m-%dT%H:%M:%S"),
        **payload,
    }
    path = RESULTS / f"{name}.json"
    path.write_text(json.dumps(payload, indent=2, default=str) + "\n")
    return path


def start_server(
    home: Path,
    model: str,
    port: int,
    threads: int | None = None,
    settings: dict[str, str] | None = None,
    workers: int = 1,
) -> subprocess.Popen:
    """`uvicorn service.main:create_app` on this home (with `workers` processes), returned once /readyz
    answers; `settings` are extra LATENT_* environment variables (e.g. {"LATENT_QUERY_BATCH_WAIT_MS": "0"})."""
    import httpx

    env = {**os.environ, "LATENT_HOME": str(home), "LATENT_MODEL": model, **(settings or {})}
    if threads is not None:
        env["LATENT_THREADS"] = str(threads)
    command = [sys.executable, "-m", "uvicorn", "service.main:create_app", "--factory", "--host", "127.0.0.1"]
    command += ["--port", str(port), "--log-level", "warning", "--no-access-log", "--workers", str(workers)]
    process = subprocess.Popen(command, cwd=ROOT, env=env)
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise SystemExit(f"server exited with {process.returncode}")
        try:
            if httpx.get(f"http://127.0.0.1:{port}/readyz", timeout=2).status_code == 200:
                return process
        except httpx.TransportError:
            pass
        time.sleep(0.2)
    process.kill()
    raise SystemExit("server did not become ready")
