"""`latent jobs list|get|cancel`: the long runs a server started, read and cancelled through the store.

Jobs are rows in SQL, so this process needs no server: a cancel marks the row and the server's worker,
which polls its row, stops the job at its next step.
"""

from __future__ import annotations

from dataclasses import asdict
from typing import Annotated, Any

import typer

from indexer.cli_common import JsonOpt, emit, exit_codes, settings_for
from latent.jobs import JobManager, JobRecord
from latent.store.store import Store

app = typer.Typer(help="Long runs (clustering, maps, VAE training): list, inspect, cancel.", no_args_is_help=True)

JobIdArg = Annotated[str, typer.Argument(help="The job's id (from POST …/clusterings, …/maps, …/vae).")]


def _jobs(store: Store) -> JobManager:
    """A manager over the store's rows that runs nothing itself (it still fails jobs of dead processes)."""
    return JobManager(store.sessions, workers=1)


def _row(job: JobRecord) -> list[Any]:
    return [job.id, job.kind, job.status, f"{job.progress:.0%}", job.params.get("collection", ""), job.message[:50]]


HEADERS = ["id", "kind", "status", "progress", "collection", "message"]


def _show(job: JobRecord, as_json: bool) -> None:
    emit(asdict(job), as_json, [_row(job)], HEADERS)
    if not as_json and job.error:
        typer.echo(f"error: {job.error}")


@app.command("list")
def list_jobs(
    ctx: typer.Context,
    collection: Annotated[str | None, typer.Option("--collection", "-c", help="Only this collection's jobs.")] = None,
    limit: Annotated[int, typer.Option(help="Newest jobs shown.", min=1, max=1000)] = 100,
    as_json: JsonOpt = False,
) -> None:
    """The newest jobs first, with status and progress."""
    with exit_codes(), Store(settings_for(ctx)) as store:
        collection_id = store.collection(collection).id if collection else None
        jobs = _jobs(store).list(collection_id=collection_id, limit=limit)
    emit([asdict(j) for j in jobs], as_json, [_row(j) for j in jobs], HEADERS)


@app.command("get")
def get_job(ctx: typer.Context, job_id: JobIdArg, as_json: JsonOpt = False) -> None:
    """A job's status, progress, and on success the result naming what it made. Exit 1: no such job."""
    with exit_codes(), Store(settings_for(ctx)) as store:
        job = _jobs(store).get(job_id)
    _show(job, as_json)


@app.command("cancel")
def cancel_job(ctx: typer.Context, job_id: JobIdArg, as_json: JsonOpt = False) -> None:
    """Cancel a queued or running job (the server running it stops at its next step). Exit 1: it already ended."""
    with exit_codes(), Store(settings_for(ctx)) as store:
        job = _jobs(store).cancel(job_id)
    _show(job, as_json)
