"""What the CPU can do, from the kernel's /proc/cpuinfo: the backend choice and the int8 config read it."""

from __future__ import annotations

import re
from pathlib import Path


def cpu_flags(cpuinfo: str | None = None) -> frozenset[str]:
    """The instruction-set flags the kernel reports (x86 `flags`, ARM `Features`); `cpuinfo` for tests."""
    if cpuinfo is None:
        try:
            cpuinfo = Path("/proc/cpuinfo").read_text()
        except OSError:
            cpuinfo = ""
    lines = (line for line in cpuinfo.splitlines() if line.startswith(("flags", "Features")))
    return frozenset(re.findall(r"[a-z0-9_]+", " ".join(line.split(":", 1)[-1] for line in lines)))
