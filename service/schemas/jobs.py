"""Job shapes: `{"id", "kind", "status", "progress", "result", "error"}` for every long run."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, Field

from latent.jobs import JobRecord


class JobPublic(BaseModel):
    id: str
    kind: str = Field(description="clustering | map | vae")
    status: str = Field(description="queued | running | succeeded | failed | cancelled")
    progress: float = Field(ge=0.0, le=1.0)
    message: str = Field("", description="The job's latest progress note (e.g. epoch and loss).")
    params: dict[str, Any] = Field(default_factory=dict)
    result: dict[str, Any] | None = Field(None, description="What the job made: clustering_id, map_id or model_id.")
    error: str | None = None
    created_at: datetime
    started_at: datetime | None = None
    finished_at: datetime | None = None

    @classmethod
    def of(cls, job: JobRecord) -> JobPublic:
        return cls(
            id=job.id,
            kind=job.kind,
            status=job.status,
            progress=job.progress,
            message=job.message,
            params=job.params,
            result=job.result,
            error=job.error,
            created_at=job.created_at,
            started_at=job.started_at,
            finished_at=job.finished_at,
        )


class JobList(BaseModel):
    data: list[JobPublic]
    count: int
