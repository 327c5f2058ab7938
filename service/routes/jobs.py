"""Long runs (clustering, map fits, VAE training): poll a job's status or cancel it."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from service.auth import Read, Write
from service.deps import JobsDep
from service.schemas.jobs import JobList, JobPublic

router = APIRouter(prefix="/v1/jobs", tags=["jobs"])


@router.get("", name="list", dependencies=[Read])
def list_jobs(jobs: JobsDep, limit: Annotated[int, Query(ge=1, le=1000)] = 100) -> JobList:
    """The newest jobs first."""
    data = [JobPublic.of(j) for j in jobs.list(limit=limit)]
    return JobList(data=data, count=len(data))


@router.get("/{job_id}", name="get", dependencies=[Read])
def get_job(job_id: str, jobs: JobsDep) -> JobPublic:
    """Status, progress (0–1), and on success `result` naming what the job made."""
    return JobPublic.of(jobs.get(job_id))


@router.delete("/{job_id}", name="cancel", dependencies=[Write])
def cancel_job(job_id: str, jobs: JobsDep) -> JobPublic:
    """Cancel a queued or running job (409 if it already ended)."""
    return JobPublic.of(jobs.cancel(job_id))
