"""`latent serve` as a real child process: wait until /readyz answers, stop it, and read what it logged."""

from __future__ import annotations

import subprocess
import time

import httpx


def wait_ready(process: subprocess.Popen[bytes], base_url: str, timeout: float = 120) -> dict[str, object]:
    """/readyz's body once it answers 200; fails with the server's stderr if it exits or never gets ready."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise AssertionError(f"the server exited with {process.returncode}: {stop(process)[-3000:]}")
        try:
            response = httpx.get(f"{base_url}/readyz", timeout=2)
            if response.status_code == 200:
                return response.json()
        except httpx.HTTPError:
            pass
        time.sleep(0.25)
    raise AssertionError(f"not ready after {timeout:.0f} s: {stop(process)[-3000:]}")


def stop(process: subprocess.Popen[bytes]) -> str:
    """Terminate (then kill) the process; returns its stderr."""
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)
    return process.stderr.read().decode(errors="replace") if process.stderr else ""
