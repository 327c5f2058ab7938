"""HTTP route modules, one per area."""

from __future__ import annotations

import time


def elapsed_ms(start: float) -> float:
    """Milliseconds since `start` (a `time.perf_counter()` reading): the `took_ms` of a response."""
    return round((time.perf_counter() - start) * 1000, 3)
