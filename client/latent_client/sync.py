"""`LatentClient`: the synchronous client (httpx.Client), every endpoint from `_api.Endpoints`.

with LatentClient("http://127.0.0.1:8000", api_key="lk_…") as client:
    client.create_collection("papers")
    client.upsert("papers", [{"id": "a", "text": "…"}])
    hits = client.search("papers", "protein folding", k=5, mode="hybrid").hits
"""

from __future__ import annotations

import time
from collections.abc import Mapping

import httpx

from latent_client._api import Endpoints
from latent_client._transport import RetryPolicy, SyncTransport, auth_headers
from latent_client.errors import LatentJobError
from latent_client.models import Job


class LatentClient(Endpoints):
    """Synchronous client. Pass `http` to reuse a client (FastAPI's TestClient in tests); it is then not closed
    here, and `base_url`/`timeout` are its own.

    Args:
        base_url: the service, e.g. "http://127.0.0.1:8000".
        api_key: sent as `Authorization: Bearer …` (none: the service's open mode).
        timeout: seconds per request (or an `httpx.Timeout`).
        http: an `httpx.Client` to send through instead of a new one.
        retry: back-off on connection errors and 429/503 (default `RetryPolicy()`; `RetryPolicy(retries=0)`: none).
        headers: extra headers on every request.
    """

    def __init__(
        self,
        base_url: str = "http://127.0.0.1:8000",
        api_key: str | None = None,
        timeout: float | httpx.Timeout = 60.0,
        http: httpx.Client | None = None,
        retry: RetryPolicy | None = None,
        headers: Mapping[str, str] | None = None,
    ):
        self._owned = http is None
        self.http = http if http is not None else httpx.Client(base_url=base_url, timeout=timeout)
        self._transport = SyncTransport(self.http, {**(headers or {}), **auth_headers(api_key)}, retry or RetryPolicy())

    def close(self) -> None:
        if self._owned:
            self.http.close()

    def __enter__(self) -> LatentClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def wait_job(self, job_id: str | Job, timeout: float = 600.0, poll: float = 0.5, check: bool = True) -> Job:
        """Poll a job until it ends; raises `LatentJobError` if it failed or was cancelled (unless not `check`),
        `TimeoutError` after `timeout` seconds."""
        job_id = job_id.id if isinstance(job_id, Job) else job_id
        deadline = time.monotonic() + timeout
        while True:
            job = self.get_job(job_id)
            if job.done:
                if check and job.status != "succeeded":
                    raise LatentJobError(job)
                return job
            if time.monotonic() >= deadline:
                raise TimeoutError(f"job {job_id} still {job.status} after {timeout} s")
            time.sleep(poll)
