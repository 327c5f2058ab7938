"""`latent index --engine ray`: Ray Data reads and embeds on many workers, this process writes.

The pipeline: Ray Data lists the source's files (JSONL, CSV, Parquet, text/markdown); a parse task per
file turns it into documents with the local engine's own readers (`indexer.sources`: same ids, fields
and rejections) and streams them on in blocks of `--batch-docs`; an actor pool (each actor loads the
encoder once, any backend) drops documents whose content hash is already stored and chunks and embeds
the rest with `latent.ingest.planning.prepare`; the results stream back (`iter_batches`) to the one
store writer in this process, which commits each batch with `Collection.write_plan`. So a re-run
re-embeds nothing that is stored, and a killed run resumes where it stopped. Ray is imported lazily.
"""

from __future__ import annotations

import json
import logging
import os
import sys
import time
import warnings
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from indexer.pipeline import IndexSummary, _progress_bar
from indexer.sources import FieldMap, Item, _format_of, _text_file, iter_source
from latent.config import Settings
from latent.errors import InvalidInput, MissingDependency
from latent.ingest.write import after_write
from latent.records import DocumentInput, PreparedDocument, UpsertPlan
from latent.store.collection import Collection
from latent.store.models import DocumentRow
from latent.store.store import Store

PARSE_CPUS = 0  # parsing is cheap; 0 CPUs: it never waits behind encoder actors that hold every core
READERS = ("jsonl", "csv", "text", "parquet")  # the kinds `indexer.sources` reads
_COLUMNS = ("status", "id", "title", "text", "metadata", "hash", "spans", "vectors", "reason")


@dataclass(slots=True)
class RayOptions:
    """Where the cluster is and how many encoder actors to run on it."""

    address: str | None = None  # None or "local": start a local Ray; "auto" or ray://host:10001: join one
    workers: int | None = None  # encoder actors (default: one per CPU of the cluster, less one for parsing)


def connect(address: str | None) -> Any:
    """Start or join Ray once per process (quietly: our progress bar is the only one)."""
    try:
        import ray
    except ImportError as exc:
        raise MissingDependency("--engine ray needs the 'ray' extra: pip install 'latent[ray]'") from exc
    if not ray.is_initialized():
        quiet = {"include_dashboard": False, "log_to_driver": False, "logging_level": logging.WARNING}
        if address in (None, "", "local"):
            ray.init(num_cpus=os.cpu_count() or 1, **quiet)
        else:
            ray.init(address=address, **quiet)
    context = ray.data.DataContext.get_current()
    logging.getLogger("ray.data").setLevel(logging.ERROR)
    # Ray counts the one file listing as one input; the parse tasks stream many blocks to the actor pool.
    warnings.filterwarnings("ignore", message="The minimum number of concurrent actors", category=UserWarning)
    context.enable_progress_bars = False
    return ray


def source_files(source: str) -> list[tuple[str, str, str]]:
    """(path, kind, text-file id) of every file the local engine would read from `source`, in its order."""
    if source == "-":
        raise InvalidInput(
            "--engine ray reads files, not stdin: write the input to a file first", code="unsupported_source"
        )
    root = Path(source)
    if not root.exists():
        raise InvalidInput(f"no such file or directory: {source}", code="source_not_found", details={"path": source})
    if root.is_dir():
        paths = [
            p
            for p in sorted(root.rglob("*"))
            if p.is_file() and not any(part.startswith(".") for part in p.relative_to(root).parts)
        ]
    else:
        paths = [root]
    files = []
    for p in paths:
        kind = _format_of(p)
        if kind in READERS:
            doc_id = str(p.relative_to(root)) if root.is_dir() else p.name
            files.append((str(p.resolve()), kind, doc_id))
        elif not root.is_dir():
            raise InvalidInput(
                f"unsupported file type {p.suffix!r}: use {', '.join(sorted(READERS))} files",
                code="unsupported_source",
                details={"path": source},
            )
    return files


def _rows(items: Iterator[Item] | list[Item]) -> dict[str, list[Any]]:
    """Parsed documents and rejections as the columns the encoder actors read."""
    out: dict[str, list[Any]] = {"id": [], "title": [], "text": [], "metadata": [], "reason": []}
    for item in items:
        is_doc = isinstance(item, DocumentInput)
        out["id"].append(item.id if is_doc else "")
        out["title"].append(item.title if is_doc else "")
        out["text"].append(item.text if is_doc else "")
        out["metadata"].append(json.dumps(item.metadata, ensure_ascii=False, default=str) if is_doc else "")
        out["reason"].append("" if is_doc else f"{item.where}\t{item.reason}")
    return out


def parse_files(batch: dict[str, np.ndarray], fields: FieldMap, rows_per_block: int) -> Iterator[dict[str, list]]:
    """Each listed file through the local engine's reader, streamed out in blocks of `rows_per_block`."""
    for path, kind, doc_id in zip(batch["path"], batch["kind"], batch["doc_id"], strict=True):
        items = _text_file(Path(path), str(doc_id)) if kind == "text" else iter_source(str(path), fields, str(kind))
        block: list[Item] = []
        for item in items:
            block.append(item)
            if len(block) >= rows_per_block:
                yield _rows(block)
                block = []
        if block:
            yield _rows(block)


@dataclass(slots=True)
class _Target:
    """What `planning.prepare` needs, on a worker: the encoder, the chunk sizes, the stored hashes."""

    encoder: Any
    dimension: int
    metric: str
    chunk_tokens: int
    chunk_overlap: int
    hashes: dict[str, str]

    def stored_hashes(self, external_ids: Sequence[str]) -> dict[str, str]:
        return {i: self.hashes[i] for i in external_ids if i in self.hashes}

    def stored_metadata(self, external_ids: Sequence[str]) -> dict[str, dict[str, Any]]:
        raise NotImplementedError("the writer compares metadata, not the workers")


class Embedder:
    """A Ray actor: loads the encoder once, then chunks and embeds each batch of changed documents."""

    def __init__(self, settings: dict[str, Any], shape: dict[str, Any]):
        from latent.embedder import load_encoder

        config = Settings(**settings)
        encoder = load_encoder(config, config.model, config.backend)
        self.target = _Target(encoder, hashes={}, **shape)
        self.hashes_loaded = False

    def __call__(self, batch: Any, hashes_ref: list[Any]) -> dict[str, list[Any]]:
        """Args: hashes_ref: [ObjectRef of the stored hashes], fetched once per actor (per call is free)."""
        from latent.ingest.planning import prepare

        if not self.hashes_loaded:
            import ray

            self.target.hashes, self.hashes_loaded = ray.get(hashes_ref[0]), True

        out: dict[str, list[Any]] = {c: [] for c in _COLUMNS}
        docs: dict[str, DocumentInput] = {}
        for row in batch.to_pylist():
            if row["reason"]:
                _append(out, "rejected", reason=row["reason"])
                continue
            docs.pop(row["id"], None)  # a repeated id within a batch keeps its last version, like `batched`
            meta = json.loads(row["metadata"])
            docs[row["id"]] = DocumentInput(id=row["id"], text=row["text"], title=row["title"], metadata=meta)
        prepared, unchanged = prepare(self.target, list(docs.values()))
        for p in prepared:
            spans = json.dumps(p.spans)
            _append(out, "prepared", p.doc, hash=p.content_hash, spans=spans, vectors=p.vectors.astype("<f4").tobytes())
        for d in unchanged:
            _append(out, "unchanged", d)
        return out


def _append(out: dict[str, list[Any]], status: str, doc: DocumentInput | None = None, **values: Any) -> None:
    row = {"status": status, "hash": "", "spans": "", "vectors": b"", "reason": ""} | values
    if doc is not None:
        row |= {"id": doc.id, "title": doc.title, "text": doc.text, "metadata": json.dumps(doc.metadata)}
    for column in _COLUMNS:
        out[column].append(row.get(column, ""))


def stored_hashes(collection: Collection) -> dict[str, str]:
    """Every stored document's content hash: the workers skip these before embedding anything."""
    from sqlalchemy import select

    stmt = select(DocumentRow.external_id, DocumentRow.content_hash).where(DocumentRow.collection_id == collection.id)
    with collection.sessions() as s:
        return {external_id: digest for external_id, digest in s.execute(stmt.execution_options(yield_per=50_000))}


def build_dataset(ray: Any, files: list[tuple[str, str, str]] | None, fields: FieldMap, batch_docs: int) -> Any:
    """The documents as a Ray dataset: one parse task per file (None: the demo corpus), streaming blocks."""
    if files is None:
        from latent.ingest.demo import demo_documents

        return ray.data.from_items([{"doc": 0}]).map_batches(lambda _: _rows(list(demo_documents())))
    if not files:
        raise InvalidInput("the source holds no .jsonl, .csv, .parquet, .txt or .md file", code="unsupported_source")
    listing = [{"path": p, "kind": k, "doc_id": i} for p, k, i in files]
    return ray.data.from_items(listing, override_num_blocks=len(listing)).map_batches(
        parse_files,
        batch_size=1,
        fn_kwargs={"fields": fields, "rows_per_block": batch_docs},
        num_cpus=PARSE_CPUS,
    )


def index_with_ray(
    store: Store,
    collection_name: str,
    source: str | None,
    fields: FieldMap,
    ray_options: RayOptions,
    *,
    batch_docs: int = 256,
    strict: bool = False,
    progress: bool = True,
    total: int | None = None,
    create: dict[str, Any] | None = None,
    limit: int | None = None,
) -> IndexSummary:
    """Index `source` on a Ray cluster; same store, summary and resumability as `index_documents`."""
    if fields.vector_field:
        raise InvalidInput(
            "--vector-field brings its own vectors: index it with --engine local", code="unsupported_source"
        )
    files = source_files(source) if source is not None else None  # a bad source fails before Ray starts
    ray = connect(ray_options.address)
    collection = store.create_collection(collection_name, exist_ok=True, **(create or {}))
    summary = IndexSummary(collection_name, model=collection.model, backend=collection.backend)
    dataset = build_dataset(ray, files, fields, batch_docs)
    dataset = dataset.limit(limit) if limit is not None else dataset
    settings = store.settings
    cpus = int(ray.cluster_resources().get("CPU", 1))
    workers = ray_options.workers or max(1, cpus - 1)
    threads = settings.threads or max(1, cpus // workers)
    worker_settings = {
        "home": str(settings.home),
        "model": collection.model,
        "backend": collection.backend,
        "device": settings.device,
        "batch_size": settings.batch_size,
        "threads": threads,
        "model_cache": str(settings.models_dir),
    }
    hashes_ref = [ray.put(stored_hashes(collection))]
    embedded = dataset.map_batches(
        Embedder,
        batch_size=batch_docs,
        batch_format="pyarrow",
        fn_constructor_kwargs={
            "settings": worker_settings,
            "shape": {
                "dimension": collection.dimension,
                "metric": collection.metric,
                "chunk_tokens": collection.chunk_tokens,
                "chunk_overlap": collection.chunk_overlap,
            },
        },
        fn_kwargs={"hashes_ref": hashes_ref},
        compute=ray.data.ActorPoolStrategy(size=workers),
        num_cpus=1,
    )
    bar = _progress_bar(progress, total, collection_name)
    start = time.perf_counter()
    try:
        for batch in embedded.iter_batches(batch_size=batch_docs, batch_format="pyarrow"):  # one commit each
            plan, rejected = _plan(collection, batch.to_pylist())
            for where, reason in rejected:
                if strict:
                    raise InvalidInput(f"{where}: {reason}", code="malformed_record", details={"where": where})
                summary.rejected += 1
                summary.rejections.append(f"{where}: {reason}")
                print(f"skipped {where}: {reason}", file=sys.stderr)
            result = collection.write_plan(plan)
            summary.indexed += result.upserted
            summary.unchanged += result.unchanged
            summary.metadata_updated += result.metadata_updated
            summary.chunks += result.chunks_added
            summary.tokens += result.tokens
            summary.seconds = time.perf_counter() - start
            if bar is not None:
                bar.update(len(plan.prepared) + len(plan.unchanged) + len(rejected))
                bar.set_postfix(docs_s=f"{summary.docs_per_second:.1f}", skipped=summary.unchanged, refresh=False)
    except KeyboardInterrupt:
        summary.interrupted = True
    finally:
        summary.seconds = time.perf_counter() - start
        if bar is not None:
            bar.close()
    if not summary.interrupted:
        collection.checkpoint()
        if summary.indexed:
            after_write(collection)
    return summary


def _plan(collection: Collection, rows: list[dict[str, Any]]) -> tuple[UpsertPlan, list[tuple[str, str]]]:
    """One streamed batch as the plan `Collection.write_plan` takes, and its rejections."""
    prepared, unchanged, rejected = [], [], []
    for row in rows:
        if row["status"] == "rejected":
            where, _, reason = row["reason"].partition("\t")
            rejected.append((where, reason))
            continue
        doc = DocumentInput(id=row["id"], text=row["text"], title=row["title"], metadata=json.loads(row["metadata"]))
        if row["status"] == "unchanged":
            unchanged.append(doc)
            continue
        spans = [tuple(s) for s in json.loads(row["spans"])]
        vectors = np.frombuffer(row["vectors"], dtype="<f4").reshape(len(spans), collection.dimension)
        prepared.append(PreparedDocument(doc, row["hash"], spans, vectors))
    stored_meta = collection.stored_metadata([d.id for d in unchanged])
    metadata_only = [d for d in unchanged if stored_meta.get(d.id) != d.metadata]
    return UpsertPlan(prepared, unchanged, metadata_only), rejected
