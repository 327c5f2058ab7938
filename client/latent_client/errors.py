"""The one exception an error answer becomes, unpacked from the service's `{"error": {...}}` envelope."""

from __future__ import annotations

from typing import Any

import httpx


class LatentHTTPError(Exception):
    """An error answer from the service: its status and the envelope's stable `code`, `message` and `details`."""

    def __init__(
        self,
        status: int,
        code: str,
        message: str,
        details: dict[str, Any] | None = None,
        headers: dict[str, str] | None = None,
    ):
        super().__init__(f"{status} {code}: {message}")
        self.status = status
        self.code = code
        self.message = message
        self.details = details or {}
        self.headers = headers or {}

    @classmethod
    def from_response(cls, response: httpx.Response) -> LatentHTTPError:
        """Latent's envelope, OpenAI's (`/v1/embeddings`: code plus type and param) or, failing both, the raw text."""
        headers = dict(response.headers)
        try:
            error = response.json()["error"]
            code = error.get("code") or error.get("type") or "http_error"
            details = error.get("details")
            if details is None:  # OpenAI's shape keeps its extra fields beside the message
                details = {k: error[k] for k in ("type", "param") if error.get(k) is not None}
            return cls(response.status_code, str(code), str(error["message"]), details, headers)
        except (ValueError, KeyError, TypeError, AttributeError):
            text = response.text[:500] or response.reason_phrase
            return cls(response.status_code, "http_error", text, {}, headers)


class LatentJobError(Exception):
    """A job the client waited for ended failed or cancelled; `job` is its last state (a `models.Job`)."""

    def __init__(self, job: Any):
        super().__init__(f"job {job.id} ({job.kind}) {job.status}: {job.error or job.message or 'no message'}")
        self.job = job
