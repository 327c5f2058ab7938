"""`AsyncLatentClient`: the asyncio client (httpx.AsyncClient), the same endpoints as `LatentClient`, awaited.

async with AsyncLatentClient("http://127.0.0.1:8000") as client:
    hits = (await client.search("papers", "protein folding", k=5)).hits
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Mapping

import httpx

from latent_client._api import Endpoints
from latent_client._transport import AsyncTransport, RetryPolicy, auth_headers
from latent_client.errors import LatentJobError
from latent_client.models import Job


class AsyncLatentClient(Endpoints):
    """Asynchronous client; every endpoint method returns an awaitable. Pass `http` to reuse an
    `httpx.AsyncClient` (e.g. one with `httpx.ASGITransport(app)` in tests); it is then not closed here.

    Arguments as `LatentClient`'s.
    """

    def __init__(
        self,
        base_url: str = "http://127.0.0.1:8000",
        api_key: str | None = None,
        timeout: float | httpx.Timeout = 60.0,
        http: httpx.AsyncClient | None = None,
        retry: RetryPolicy | None = None,
        headers: Mapping[str, str] | None = None,
    ):
        self._owned = http is None
        self.http = http if http is not None else httpx.AsyncClient(base_url=base_url, timeout=timeout)
        self._transport = AsyncTransport(
            self.http, {**(headers or {}), **auth_headers(api_key)}, retry or RetryPolicy()
        )

    async def aclose(self) -> None:
        if self._owned:
            await self.http.aclose()

    async def __aenter__(self) -> AsyncLatentClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    async def wait_job(self, job_id: str | Job, timeout: float = 600.0, poll: float = 0.5, check: bool = True) -> Job:
        """Poll a job until it ends, as `LatentClient.wait_job`."""
        job_id = job_id.id if isinstance(job_id, Job) else job_id
        deadline = time.monotonic() + timeout
        while True:
            job = await self.get_job(job_id)
            if job.done:
                if check and job.status != "succeeded":
                    raise LatentJobError(job)
                return job
            if time.monotonic() >= deadline:
                raise TimeoutError(f"job {job_id} still {job.status} after {timeout} s")
            await asyncio.sleep(poll)
