"""JobManager: jobs run in a worker, report progress, stop on cancel, and orphans are failed on restart."""

from __future__ import annotations

import os
import threading
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import update

from latent.clustering.model import ClusterModel
from latent.config import get_settings
from latent.errors import Conflict, LatentError
from latent.jobs import JobCancelled, JobContext, JobManager, Steps, run_inline
from latent.store.feature_models import JobRow
from latent.store.store import Store


@pytest.fixture
def store(tmp_path: Path):  # noqa: ANN201
    with Store(get_settings(home=tmp_path, model="fake")) as s:
        yield s


@pytest.fixture
def jobs(store: Store):  # noqa: ANN201
    manager = JobManager(store.sessions)
    yield manager
    manager.shutdown()


def test_progress_is_reported_and_the_result_kept(jobs: JobManager) -> None:
    seen = threading.Event()
    release = threading.Event()

    def work(ctx: JobContext) -> dict[str, Any]:
        ctx.progress(0.4, "halfway there")
        seen.set()
        release.wait(10)
        return {"answer": 42}

    job = jobs.submit("test", work, {"p": 1})
    assert seen.wait(10)
    running = jobs.get(job.id)
    assert (running.status, running.progress, running.message) == ("running", 0.4, "halfway there")
    release.set()
    done = jobs.wait(job.id, timeout=10)
    assert (done.status, done.progress, done.result, done.params) == ("succeeded", 1.0, {"answer": 42}, {"p": 1})


def test_cancel_a_running_job(jobs: JobManager) -> None:
    started = threading.Event()

    def work(ctx: JobContext) -> dict[str, Any]:
        started.set()
        for _ in range(1000):
            ctx.progress(0.1, "looping")  # each report is also a cancellation check
            threading.Event().wait(0.01)
        return {}

    job = jobs.submit("test", work, {})
    assert started.wait(10)
    jobs.cancel(job.id)
    done = jobs.wait(job.id, timeout=10)
    assert done.status == "cancelled" and done.finished_at is not None
    with pytest.raises(Conflict):
        jobs.cancel(job.id)  # already ended


def test_an_estimator_stopped_by_should_stop_cancels_its_job(jobs: JobManager) -> None:
    """One cancellation exception: what an estimator raises is what the manager records as cancelled."""
    import numpy as np

    X = np.random.default_rng(0).normal(size=(40, 8)).astype(np.float32)
    stop = threading.Event()
    stop.set()  # asked to stop before the first step

    def work(ctx: JobContext) -> dict[str, Any]:
        ClusterModel(k=3).fit(X, progress=ctx.progress, should_stop=stop.is_set)
        return {}

    assert jobs.wait(jobs.submit("clustering", work, {}).id, timeout=30).status == "cancelled"
    assert issubclass(JobCancelled, LatentError) and JobCancelled.code == "cancelled"


def test_an_orphaned_job_is_failed_when_the_next_manager_starts(store: Store) -> None:
    release = threading.Event()
    first = JobManager(store.sessions)
    job = first.submit("test", lambda ctx: release.wait(10) and {}, {})
    # The process that ran it dies: pretend by pointing its row at a pid that cannot be alive.
    with store.sessions() as s, s.begin():
        s.execute(update(JobRow).where(JobRow.id == job.id).values(status="running", owner_pid=2**22 + 7))
    assert first.get(job.id).status == "running"
    second = JobManager(store.sessions)  # a restart
    try:
        orphan = second.get(job.id)
        assert orphan.status == "failed" and "interrupted" in (orphan.error or "")
        assert orphan.finished_at is not None
    finally:
        release.set()
        first.shutdown()
        second.shutdown()


def test_a_live_owner_keeps_its_jobs(store: Store) -> None:
    with store.sessions() as s, s.begin():
        s.add(
            JobRow(id="mine", kind="test", status="running", progress=0.0, message="", params={}, owner_pid=os.getpid())
        )
    manager = JobManager(store.sessions)
    try:
        assert manager.get("mine").status == "running"  # this process is alive: not an orphan
    finally:
        manager.shutdown()


def test_steps_and_run_inline_share_the_one_progress_signature() -> None:
    reports: list[tuple[float, str]] = []
    steps = Steps(lambda done, stage: reports.append((done, stage)), should_stop=None)
    steps.step("load", 1.5)
    steps.finish()
    assert reports == [(1.0, "load"), (1.0, "done")]  # (fraction clamped to [0, 1], message)
    with pytest.raises(JobCancelled):
        Steps(None, should_stop=lambda: True).step("fit", 0.0)
    echoed: list[tuple[float, str]] = []
    assert run_inline(lambda ctx: ctx.progress(0.5, "half") or {"ok": 1}, echo=lambda f, m: echoed.append((f, m))) == {
        "ok": 1
    }
    assert echoed == [(0.5, "half")]
