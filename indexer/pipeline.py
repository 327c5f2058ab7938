"""The indexing job: stream documents, embed in batches, commit per batch, show progress, resume on re-run."""

from __future__ import annotations

import sys
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future
from dataclasses import asdict, dataclass, field
from typing import Any, TypeVar

from indexer.sources import Item, Rejected
from latent.errors import InvalidInput
from latent.ingest.write import after_write
from latent.records import DocumentInput, UpsertPlan
from latent.store.collection import Collection
from latent.store.store import Store

T = TypeVar("T")


@dataclass(slots=True)
class IndexSummary:
    collection: str
    model: str = ""
    backend: str = ""  # the collection's encoder backend (what `auto` chose when it was created)
    indexed: int = 0
    unchanged: int = 0
    metadata_updated: int = 0
    rejected: int = 0
    chunks: int = 0
    tokens: int = 0
    seconds: float = 0.0
    interrupted: bool = False
    rejections: list[str] = field(default_factory=list)

    @property
    def docs_per_second(self) -> float:
        return self.indexed / self.seconds if self.seconds else 0.0

    @property
    def tokens_per_second(self) -> float:
        return self.tokens / self.seconds if self.seconds else 0.0

    def as_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out["rejections"] = self.rejections[:100]
        out["docs_per_second"] = round(self.docs_per_second, 2)
        out["tokens_per_second"] = round(self.tokens_per_second, 1)
        return out


def batched(items: Iterable[Item], size: int, on_reject: Callable[[Rejected], None]) -> Iterator[list[DocumentInput]]:
    """Batches of documents; a repeated id within a batch keeps its last version."""
    batch: dict[str, DocumentInput] = {}
    for item in items:
        if isinstance(item, Rejected):
            on_reject(item)
            continue
        batch.pop(item.id, None)
        batch[item.id] = item
        if len(batch) >= size:
            yield list(batch.values())
            batch = {}
    if batch:
        yield list(batch.values())


def planned(
    collection: Collection, batches: Iterable[list[DocumentInput]]
) -> Iterator[tuple[list[DocumentInput], UpsertPlan]]:
    """Each batch with its upsert plan; the next batch is chunked and embedded in a background thread
    while the caller writes the current one (SQL, FTS, FAISS), so the encoder rarely waits on the store.

    A batch that shares ids with the batch before it is planned only after that one is written: its
    plan would otherwise compare against content that is about to change.
    """
    it = iter(batches)
    current = next(it, None)
    if current is None:
        return
    future = in_background(collection.plan_upsert, current)
    while True:
        following = next(it, None)  # read and parse the next batch while this one embeds
        plan = future.result()
        disjoint = following is not None and not {d.id for d in following} & {d.id for d in current}
        if disjoint:
            future = in_background(collection.plan_upsert, following)
        yield current, plan
        if following is None:
            return
        if not disjoint:
            future = in_background(collection.plan_upsert, following)
        current = following


def in_background(fn: Callable[..., T], *args: Any) -> Future[T]:
    """Run fn in a daemon thread: an interrupted job exits at once instead of waiting for an unwanted batch."""
    future: Future[T] = Future()

    def run() -> None:
        if not future.set_running_or_notify_cancel():
            return
        try:
            future.set_result(fn(*args))
        except BaseException as exc:  # noqa: BLE001 - re-raised in the caller by future.result()
            future.set_exception(exc)

    threading.Thread(target=run, name="latent-embed", daemon=True).start()
    return future


def index_documents(
    store: Store,
    collection_name: str,
    items: Iterable[Item],
    *,
    batch_docs: int = 256,
    strict: bool = False,
    progress: bool = True,
    total: int | None = None,
    create: dict[str, Any] | None = None,
    pipelined: bool = True,
) -> IndexSummary:
    """Index a stream into a collection (created if missing). Each batch is its own transaction, so an
    interrupted run keeps every finished batch and a re-run skips them by content hash.

    `pipelined=False` embeds and writes strictly in turn (bench/indexing.py measures the difference).
    """
    collection = store.create_collection(collection_name, exist_ok=True, **(create or {}))
    summary = IndexSummary(collection_name, model=collection.model, backend=collection.backend)
    bar = _progress_bar(progress, total, collection_name)

    def on_reject(rej: Rejected) -> None:
        if strict:
            raise InvalidInput(f"{rej.where}: {rej.reason}", code="malformed_record", details={"where": rej.where})
        summary.rejected += 1
        summary.rejections.append(f"{rej.where}: {rej.reason}")
        line = f"skipped {rej.where}: {rej.reason}"
        if bar is not None:
            bar.write(line, file=sys.stderr)
            bar.update(1)
        else:  # --quiet hides the progress bar, not the skips
            print(line, file=sys.stderr)

    start = time.perf_counter()
    try:
        batches = batched(items, batch_docs, on_reject)
        plans = (
            planned(collection, batches) if pipelined else ((docs, collection.plan_upsert(docs)) for docs in batches)
        )
        for docs, plan in plans:
            result = collection.write_plan(plan)
            summary.indexed += result.upserted
            summary.unchanged += result.unchanged
            summary.metadata_updated += result.metadata_updated
            summary.chunks += result.chunks_added
            summary.tokens += result.tokens
            summary.seconds = time.perf_counter() - start
            if bar is not None:
                bar.update(len(docs))
                bar.set_postfix(
                    docs_s=f"{summary.docs_per_second:.1f}",
                    tok_s=f"{summary.tokens_per_second:.0f}",
                    skipped=summary.unchanged,
                    rejected=summary.rejected,
                    refresh=False,
                )
    except KeyboardInterrupt:
        summary.interrupted = True
    finally:
        summary.seconds = time.perf_counter() - start
        if bar is not None:
            bar.close()
    if not summary.interrupted:
        # After Ctrl-C nothing more is written: every finished batch is committed in SQL, which the next
        # open replays into the index; a lock the interrupt caught half-taken must not hang the exit.
        collection.checkpoint()
        if summary.indexed:
            after_write(collection)  # new documents onto the newest map: the writer does it, never a read
    return summary


def _progress_bar(enabled: bool, total: int | None, name: str) -> Any:
    if not enabled:
        return None
    from tqdm import tqdm

    return tqdm(total=total, desc=f"indexing {name}", unit="doc", file=sys.stderr, dynamic_ncols=True, mininterval=0.5)
