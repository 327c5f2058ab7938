"""Background jobs (clustering, map fits, VAE training): rows in SQL, one worker thread per process.

A job function receives a `JobContext` to report progress and to notice cancellation. A job left
`queued`/`running` by a process that died is marked failed when the next JobManager starts.
A cancel from another process (`latent jobs cancel` while a server runs the job) marks the row
`cancelled`; the owner polls its row (at most every CANCEL_POLL_SECONDS) and stops at its next step.
"""

from __future__ import annotations

import logging
import os
import threading
import time
import traceback
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import sessionmaker

from latent.errors import Conflict, LatentError, NotFound
from latent.store.base import utcnow
from latent.store.feature_models import JobRow

log = logging.getLogger(__name__)
ACTIVE = ("queued", "running")
FINAL = ("succeeded", "failed", "cancelled")
CANCEL_POLL_SECONDS = 0.5


Progress = Callable[[float, str], None]
"""The one progress callback of every long run: progress(fraction_done in [0, 1], message)."""
ShouldStop = Callable[[], bool]
"""Polled between the steps of a long run; returning True stops it with JobCancelled."""


class JobCancelled(LatentError):
    """The one cancellation exception: a job or a long fit stopped because its caller asked it to."""

    code = "cancelled"
    status = 409

    def __init__(self, message: str = "stopped on request", **kwargs: Any):
        super().__init__(message, **kwargs)


class Steps:
    """Reports a long computation's progress and honours cancellation between its steps (estimators use it)."""

    def __init__(self, progress: Progress | None, should_stop: ShouldStop | None):
        self._progress = progress
        self._should_stop = should_stop

    def step(self, stage: str, fraction: float) -> None:
        """Report `stage` at `fraction` done, first raising JobCancelled if the caller asked to stop."""
        if self._should_stop is not None and self._should_stop():
            raise JobCancelled(f"stopped on request during {stage!r}", details={"stage": stage})
        if self._progress is not None:
            self._progress(min(max(float(fraction), 0.0), 1.0), stage)

    def finish(self) -> None:
        """Report (1.0, "done"); the work is complete, so a late stop request is moot."""
        if self._progress is not None:
            self._progress(1.0, "done")


@dataclass(slots=True)
class JobRecord:
    id: str
    kind: str
    status: str
    progress: float
    message: str
    params: dict[str, Any]
    result: dict[str, Any] | None
    error: str | None
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None


class JobContext:
    """What a running job sees: progress reporting and a cancellation check."""

    def __init__(self, manager: JobManager | None, job_id: str | None, echo: Progress | None = None):
        self._manager = manager
        self.job_id = job_id
        self._echo = echo
        self._cancel = threading.Event()
        self._polled = 0.0

    def progress(self, fraction: float, message: str = "") -> None:
        fraction = min(max(float(fraction), 0.0), 1.0)
        if self._echo:
            self._echo(fraction, message)
        if self._manager and self.job_id:
            self._manager._update(self.job_id, active_only=True, progress=fraction, message=message[:2000])
        self.check()

    def should_stop(self) -> bool:
        """True once a cancel was asked here or, seen in the job's row, by another process."""
        if self._cancel.is_set():
            return True
        if self._manager is not None and self.job_id is not None:
            now = time.monotonic()
            if now - self._polled >= CANCEL_POLL_SECONDS:
                self._polled = now
                if self._manager._cancelled_elsewhere(self.job_id):
                    self._cancel.set()
        return self._cancel.is_set()

    def check(self) -> None:
        if self.should_stop():
            raise JobCancelled()


JobFn = Callable[[JobContext], dict[str, Any]]


class JobManager:
    """Runs jobs one at a time in a worker thread (the CPU has two cores; parallel fits only thrash)."""

    def __init__(self, sessions: sessionmaker, workers: int = 1):
        self.sessions = sessions
        self._pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="latent-job")
        self._contexts: dict[str, JobContext] = {}
        self._lock = threading.Lock()
        self.fail_orphans()

    def fail_orphans(self) -> int:
        """Jobs whose process is gone can never finish: say so instead of leaving them 'running'."""
        with self.sessions() as s, s.begin():
            rows = s.scalars(select(JobRow).where(JobRow.status.in_(ACTIVE))).all()
            n = 0
            for row in rows:
                if row.owner_pid == os.getpid() or _alive(row.owner_pid):
                    continue
                row.status, row.finished_at = "failed", utcnow()
                row.error = "interrupted: the process running this job stopped before it finished"
                n += 1
        return n

    def submit(self, kind: str, fn: JobFn, params: dict[str, Any], collection_id: int | None = None) -> JobRecord:
        job_id = uuid.uuid4().hex
        with self.sessions() as s, s.begin():
            s.add(
                JobRow(
                    id=job_id,
                    kind=kind,
                    collection_id=collection_id,
                    status="queued",
                    progress=0.0,
                    message="",
                    params=params,
                    owner_pid=os.getpid(),
                )
            )
        ctx = JobContext(self, job_id)
        with self._lock:
            self._contexts[job_id] = ctx
        self._pool.submit(self._run, job_id, fn, ctx)
        return self.get(job_id)

    def _run(self, job_id: str, fn: JobFn, ctx: JobContext) -> None:
        try:
            if ctx.should_stop():
                raise JobCancelled()
            self._update(job_id, active_only=True, status="running", started_at=utcnow())
            result = fn(ctx)
            ctx.check()
            self._update(
                job_id, active_only=True, status="succeeded", progress=1.0, result=result, finished_at=utcnow()
            )
        except JobCancelled:
            self._update(job_id, status="cancelled", finished_at=utcnow())
        except LatentError as exc:
            self._update(job_id, status="failed", error=f"{exc.code}: {exc.message}", finished_at=utcnow())
        except Exception as exc:  # noqa: BLE001 - a job's failure is reported in its row, not lost
            log.error("job %s failed:\n%s", job_id, traceback.format_exc())
            self._update(job_id, status="failed", error=f"{type(exc).__name__}: {exc}", finished_at=utcnow())
        finally:
            with self._lock:
                self._contexts.pop(job_id, None)

    def _update(self, job_id: str, active_only: bool = False, **values: Any) -> None:
        """Write the row; `active_only` leaves a row another process already ended (cancelled) as it is."""
        stmt = update(JobRow).where(JobRow.id == job_id)
        if active_only:
            stmt = stmt.where(JobRow.status.in_(ACTIVE))
        with self.sessions() as s, s.begin():
            s.execute(stmt.values(**values))

    def _cancelled_elsewhere(self, job_id: str) -> bool:
        with self.sessions() as s:
            return s.scalar(select(JobRow.status).where(JobRow.id == job_id)) == "cancelled"

    def get(self, job_id: str) -> JobRecord:
        with self.sessions() as s:
            row = s.get(JobRow, job_id)
        if row is None:
            raise NotFound(f"job {job_id!r} does not exist", code="job_not_found", details={"id": job_id})
        return _record(row)

    def list(self, collection_id: int | None = None, limit: int = 100) -> list[JobRecord]:
        stmt = select(JobRow).order_by(JobRow.created_at.desc()).limit(limit)
        if collection_id is not None:
            stmt = stmt.where(JobRow.collection_id == collection_id)
        with self.sessions() as s:
            return [_record(r) for r in s.scalars(stmt).all()]

    def cancel(self, job_id: str) -> JobRecord:
        job = self.get(job_id)
        if job.status in FINAL:
            raise Conflict(
                f"job {job_id!r} already {job.status}",
                code="job_finished",
                details={"id": job_id, "status": job.status},
            )
        with self._lock:
            ctx = self._contexts.get(job_id)
        if ctx is not None:
            ctx._cancel.set()
        if job.status == "queued" or ctx is None:
            self._update(job_id, status="cancelled", finished_at=utcnow())
        return self.get(job_id)

    def wait(self, job_id: str, timeout: float = 60.0) -> JobRecord:
        """Block until the job ends (tests and the CLI use this)."""
        deadline = time.monotonic() + timeout
        while True:
            job = self.get(job_id)
            if job.status in FINAL or time.monotonic() > deadline:
                return job
            time.sleep(0.05)

    def shutdown(self) -> None:
        with self._lock:
            for ctx in self._contexts.values():
                ctx._cancel.set()
        self._pool.shutdown(wait=True, cancel_futures=True)


def run_inline(fn: JobFn, echo: Progress | None = None) -> dict[str, Any]:
    """Run a job function in the caller's thread (the CLI), with progress echoed."""
    return fn(JobContext(None, None, echo))


def _alive(pid: int) -> bool:
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _record(row: JobRow) -> JobRecord:
    return JobRecord(
        id=row.id,
        kind=row.kind,
        status=row.status,
        progress=row.progress,
        message=row.message,
        params=row.params or {},
        result=row.result,
        error=row.error,
        created_at=row.created_at,
        started_at=row.started_at,
        finished_at=row.finished_at,
    )
