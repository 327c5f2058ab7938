"""Typed Python client of the Latent HTTP API, sync (`LatentClient`) and async (`AsyncLatentClient`).

Needs only httpx and pydantic. Answers are the pydantic models of `latent_client.models`; an error answer
raises `LatentHTTPError` (status, code, message, details); connection errors and 429/503 answers are retried
with exponential back-off (`RetryPolicy`), honouring Retry-After.
"""

from __future__ import annotations

from latent_client import models
from latent_client._transport import RetryPolicy
from latent_client.aio import AsyncLatentClient
from latent_client.errors import LatentHTTPError, LatentJobError
from latent_client.sync import LatentClient

__version__ = "0.1.0"

__all__ = [
    "AsyncLatentClient",
    "LatentClient",
    "LatentHTTPError",
    "LatentJobError",
    "RetryPolicy",
    "__version__",
    "models",
]
