"""Coalesces concurrent small `encode` calls (one query each) into one inner call, so a busy server batches.

Every search, recommendation or embed request encodes its own few texts; sixteen concurrent requests make
sixteen one-row forward passes, each paying the per-call overhead and running a matmul too thin to use the
CPU well (issue 18: one batch of 16 did 2.6x the searches/s of 16 concurrent single requests).

Leader/follower: the first caller to find no batch being collected becomes the leader. When no other caller
is in flight it encodes at once, so a lone request pays no window. Otherwise it waits, at most `max_wait_ms`,
for followers to join, and stops waiting as soon as the batch is full or every caller in flight has joined
(nobody else can). While `max_concurrent_batches` batches are already inside the model it also waits for
one to finish: callers arriving meanwhile join its batch (group commit). It encodes the batch once and hands
each caller a copy of its own rows.

Failure is per caller: when a batch fails, each caller retries its own texts alone (in its own thread), so
only the bad input fails; a caller whose thread is interrupted drops its request, and a leader interrupted
mid-batch hands the others back to the queue for a new leader.
"""

from __future__ import annotations

import threading
import time
from collections import deque

import numpy as np

from latent.embedder.base import Encoder
from latent.embedder.wrapper import EncoderWrapper

# A follower wakes this often even without news, so an exception injected into its thread (a cancelled
# request) is raised promptly: a thread blocked in a bare lock acquire never sees one.
_WAIT_SLICE_S = 0.05


class _Request:
    """One caller's texts and, once encoded, its rows or its error."""

    __slots__ = ("texts", "rows", "error", "alone", "lead", "done", "wake", "abandoned")

    def __init__(self, texts: list[str]) -> None:
        self.texts = texts
        self.rows: np.ndarray | None = None
        self.error: BaseException | None = None
        self.alone = False  # its batch failed: encode these texts alone, in the caller's own thread
        self.lead = False  # promoted: collect and encode the next batch
        self.done = False
        self.wake = threading.Event()
        self.abandoned = False  # its caller stopped waiting (interrupted); nobody reads its rows


class CoalescingEncoder(EncoderWrapper):
    """An `Encoder` that batches concurrent small calls into one call of the encoder it wraps.

    Calls of more than `max_texts_per_call` texts (indexing batches) go straight to the inner encoder: they
    are batches already, and run concurrently with coalesced batches, so the inner encoder must be safe to
    call from several threads (every backend is, latent/embedder/sbert.py).

    Args:
        inner: the encoder doing the work.
        max_wait_ms: the longest a leader waits for followers; a lone caller never waits.
        max_batch: texts per inner call; a full batch is encoded without waiting further.
        max_texts_per_call: larger calls bypass the batcher.
        batch_size: passed to the inner `encode` for a coalesced batch (None: the inner default).
        max_concurrent_batches: coalesced batches inside the inner encoder at once (None: no limit). With
            1, callers arriving while a batch runs queue up and go together as the next batch the moment
            it ends: on a CPU-bound encoder that already uses every core, a second concurrent batch only
            competes for the same cores, while a bigger batch amortises the per-call cost.
    """

    def __init__(
        self,
        inner: Encoder,
        *,
        max_wait_ms: float = 1.5,
        max_batch: int = 32,
        max_texts_per_call: int = 8,
        batch_size: int | None = None,
        max_concurrent_batches: int | None = 1,
    ) -> None:
        if max_wait_ms < 0 or max_batch < 1 or max_texts_per_call < 1 or (max_concurrent_batches or 1) < 1:
            raise ValueError("max_wait_ms must be >= 0; max_batch, max_texts_per_call, max_concurrent_batches >= 1")
        super().__init__(inner)
        self.max_wait_s = max_wait_ms / 1000.0
        self.max_batch = max_batch
        self.max_texts_per_call = max_texts_per_call
        self.batch_size = batch_size
        self.max_concurrent_batches = max_concurrent_batches
        self._cond = threading.Condition(threading.Lock())
        self._queue: deque[_Request] = deque()  # waiting for a batch, oldest first
        self._queued_texts = 0
        self._collecting = False  # a leader is gathering the next batch
        self._in_flight = 0  # small callers inside encode(), whatever their state
        self._running = 0  # coalesced batches inside the inner encoder now
        self._counts = {
            "calls": 0,
            "direct_calls": 0,
            "batches": 0,
            "texts": 0,
            "batch_failures": 0,
            "retries": 0,
            "max_batch": 0,
        }

    def stats(self) -> dict[str, float | int]:
        """Counters for /metrics: coalesced calls, inner batches, texts in them, and the mean batch size."""
        with self._cond:
            counts = dict(self._counts)
        counts["mean_batch_size"] = round(counts["texts"] / counts["batches"], 3) if counts["batches"] else 0.0
        return counts

    def encode(self, texts: list[str], batch_size: int | None = None) -> np.ndarray:
        """Unit rows for `texts`, the same (up to padding effects) as the inner encoder gives them alone."""
        texts = list(texts)
        if not texts or len(texts) > self.max_texts_per_call:
            with self._cond:
                self._counts["direct_calls"] += 1
            return self.inner.encode(texts, batch_size)
        request = _Request(texts)
        with self._cond:
            self._counts["calls"] += 1
            self._in_flight += 1
            self._queue.append(request)
            self._queued_texts += len(texts)
            if self._collecting:
                self._cond.notify_all()  # the leader re-checks: full, or everyone in flight has joined
            else:
                self._collecting = True
                request.lead = True
        try:
            return self._await(request)
        finally:
            with self._cond:
                self._in_flight -= 1
                self._cond.notify_all()  # one fewer caller a waiting leader can expect

    def _await(self, request: _Request) -> np.ndarray:
        """Lead batches when promoted, otherwise wait; then return this request's rows or raise its error."""
        try:
            while not request.done:
                if request.lead:
                    self._lead(request)
                    continue  # our own request was in that batch, or is queued behind it
                request.wake.wait(_WAIT_SLICE_S)
                with self._cond:
                    request.wake.clear()  # the flags are re-read after this, so no wake-up is lost
        except BaseException:
            self._abandon(request)
            raise
        if request.alone:  # the batch failed: find out whether these texts fail on their own
            with self._cond:
                self._counts["retries"] += 1
            return self.inner.encode(request.texts)
        if request.error is not None:
            raise request.error
        assert request.rows is not None
        return request.rows

    def _lead(self, own: _Request) -> None:
        """Collect the next batch (bounded wait), encode it once, and hand out the rows."""
        batch: list[_Request] = []
        try:
            with self._cond:
                deadline = time.monotonic() + self.max_wait_s
                while True:
                    if self._saturated():
                        self._cond.wait()  # a finishing batch notifies
                        continue
                    remaining = deadline - time.monotonic()
                    # Wait only while someone in flight has not joined: they may join within the window.
                    if self._queued_texts >= self.max_batch or self._in_flight <= len(self._queue) or remaining <= 0:
                        break
                    self._cond.wait(remaining)
                own.lead = False
                batch = self._take_batch()
                self._collecting = False
                self._running += 1
                self._promote_next()
            try:
                self._run(batch)
            finally:
                with self._cond:
                    self._running -= 1
                    self._cond.notify_all()  # a leader waiting for a free slot may go
        except BaseException:
            # This thread was interrupted after taking the batch: only its own request fails (in
            # `_await`); the others go back to the front of the queue for another leader.
            self._requeue([r for r in batch if r is not own and not r.done])
            raise

    def _saturated(self) -> bool:
        return self.max_concurrent_batches is not None and self._running >= self.max_concurrent_batches

    def _take_batch(self) -> list[_Request]:
        """Whole requests from the front of the queue, up to max_batch texts (always at least one)."""
        batch: list[_Request] = []
        size = 0
        while self._queue and (not batch or size + len(self._queue[0].texts) <= self.max_batch):
            request = self._queue.popleft()
            size += len(request.texts)
            batch.append(request)
        self._queued_texts -= size
        return batch

    def _promote_next(self) -> None:
        """Make the oldest queued request the leader of the next batch when nobody else is collecting."""
        if self._queue and not self._collecting:
            self._collecting = True
            nxt = self._queue[0]
            nxt.lead = True
            nxt.wake.set()

    def _run(self, batch: list[_Request]) -> None:
        """Encode the batch in this (the leader's) thread and settle every request in it."""
        texts = [t for r in batch for t in r.texts]
        unique = list(dict.fromkeys(texts))  # concurrent identical queries are encoded once
        try:
            vectors = self.inner.encode(unique, self.batch_size)
            if getattr(vectors, "shape", None) != (len(unique), self.dimension):
                raise ValueError(f"inner encoder returned shape {getattr(vectors, 'shape', None)} for {len(unique)}")
        except Exception as exc:
            self._settle_failed(batch, exc)
            return
        where = {t: i for i, t in enumerate(unique)}
        rows = vectors[[where[t] for t in texts]] if len(unique) < len(texts) else np.asarray(vectors)
        start = 0
        with self._cond:
            self._counts["batches"] += 1
            self._counts["texts"] += len(texts)
            self._counts["max_batch"] = max(self._counts["max_batch"], len(texts))
            for request in batch:
                end = start + len(request.texts)
                request.rows = np.array(rows[start:end], dtype=np.float32, copy=True)
                start = end
                self._finish(request)

    def _settle_failed(self, batch: list[_Request], exc: Exception) -> None:
        """A lone request gets the error; in a larger batch each request retries alone, so only bad input fails."""
        with self._cond:
            self._counts["batch_failures"] += 1
            for request in batch:
                if len(batch) == 1:
                    request.error = exc
                else:
                    request.alone = True
                self._finish(request)

    def _requeue(self, requests: list[_Request]) -> None:
        with self._cond:
            live = [r for r in requests if not r.abandoned]
            self._queue.extendleft(reversed(live))
            self._queued_texts += sum(len(r.texts) for r in live)
            self._promote_next()

    def _finish(self, request: _Request) -> None:
        request.done = True
        request.wake.set()

    def _abandon(self, request: _Request) -> None:
        """The caller was interrupted: drop its queued texts, and pass on a leadership it was given."""
        with self._cond:
            request.abandoned = True
            if request in self._queue:
                self._queue.remove(request)
                self._queued_texts -= len(request.texts)
            if request.lead:  # made leader but interrupted before taking a batch
                request.lead = False
                self._collecting = False
            self._promote_next()
