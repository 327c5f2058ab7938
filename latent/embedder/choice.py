"""`backend = "auto"`: the fastest encoder backend whose quality holds on this CPU, chosen once per process.

Measured here (bench/encode.py, SciFact nDCG@10): openvino-int8 embeds 3.4x faster than torch fp32 at
the same quality, but static int8 is only fast, and only matches fp32, where the CPU has int8
dot-product instructions (AVX-512 VNNI, AVX-VNNI or AMX); elsewhere fp32 OpenVINO, then ONNX Runtime,
then torch, whichever is installed. Existing collections keep the backend they recorded; this choice
is only for new collections and for embedding without a collection.
"""

from __future__ import annotations

import importlib.util
import logging
import re
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

AUTO = "auto"
BACKENDS = ("torch", "onnx", "onnx-int8", "openvino", "openvino-int8")
INT8_DOT_PRODUCT = ("avx512_vnni", "avx_vnni", "amx_int8")  # /proc/cpuinfo flag names
_NEEDS = {
    "openvino": ("openvino", "optimum.intel", "nncf"),
    "onnx": ("onnxruntime", "optimum.onnxruntime"),
    "torch": (),
}

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class BackendChoice:
    backend: str
    reason: str


def cpu_flags(cpuinfo: str | None = None) -> frozenset[str]:
    """The instruction-set flags the kernel reports (x86 `flags`, ARM `Features`)."""
    if cpuinfo is None:
        try:
            cpuinfo = Path("/proc/cpuinfo").read_text()
        except OSError:
            cpuinfo = ""
    lines = (line for line in cpuinfo.splitlines() if line.startswith(("flags", "Features")))
    return frozenset(re.findall(r"[a-z0-9_]+", " ".join(line.split(":", 1)[-1] for line in lines)))


def installed(family: str) -> bool:
    """Whether the packages a backend family needs can be imported (without importing them)."""
    for module in _NEEDS[family]:
        try:
            if importlib.util.find_spec(module) is None:
                return False
        except (ImportError, ValueError):
            return False
    return True


def choose_backend(flags: frozenset[str], available: dict[str, bool]) -> BackendChoice:
    """The rule, as a pure function of the CPU's flags and the installed families (tested without either)."""
    int8 = sorted(flags & set(INT8_DOT_PRODUCT))
    if int8 and available.get("openvino"):
        return BackendChoice("openvino-int8", f"this CPU has int8 dot-product instructions ({', '.join(int8)})")
    why = "no int8 dot-product instructions on this CPU" if not int8 else "OpenVINO is not installed"
    for backend in ("openvino", "onnx"):
        if available.get(backend):
            return BackendChoice(backend, f"{why}: the fastest fp32 backend installed")
    return BackendChoice("torch", f"{why}, and neither OpenVINO nor ONNX Runtime is installed")


@lru_cache(maxsize=1)
def auto_backend() -> BackendChoice:
    """This machine's choice, made (and logged) once per process."""
    choice = choose_backend(cpu_flags(), {family: installed(family) for family in ("openvino", "onnx")})
    log.info("encoder backend %s (auto: %s)", choice.backend, choice.reason)
    return choice


def resolve_backend(backend: str, model: str) -> str:
    """The concrete backend for a setting: `auto` becomes this machine's choice (the fake test encoder has
    no backends: torch stands for it); a named backend stays as given."""
    if backend != AUTO:
        return backend
    if model == "fake" or model.startswith("fake:"):
        return "torch"
    return auto_backend().backend


def describe_backend(backend: str, model: str) -> str:
    """What start-up messages say: the backend new collections get, and why."""
    chosen = resolve_backend(backend, model)
    if backend != AUTO:
        return f"{chosen} (as set)"
    if chosen != "torch" or not (model == "fake" or model.startswith("fake:")):
        return f"{chosen} (auto: {auto_backend().reason})"
    return f"{chosen} (auto: the fake encoder)"
