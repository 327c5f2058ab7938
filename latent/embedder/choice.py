"""`backend = "auto"`: the fastest encoder backend whose quality holds on this CPU, chosen once per process.

Measured here (bench/encode.py, SciFact nDCG@10): openvino-int8 embeds 3.4x faster than torch fp32 at
the same quality, but static int8 is only fast, and only matches fp32, where the CPU has int8
dot-product instructions (AVX-512 VNNI, AVX-VNNI or AMX); elsewhere fp32 OpenVINO, then ONNX Runtime,
then torch, whichever is installed. Existing collections keep the backend they recorded; this choice
is only for new collections and for embedding without a collection.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from functools import lru_cache

from latent.embedder.cpu import cpu_flags
from latent.embedder.fake import is_fake_model
from latent.embedder.onnx import missing_packages

AUTO = "auto"
INT8_DOT_PRODUCT = ("avx512_vnni", "avx_vnni", "amx_int8")  # /proc/cpuinfo flag names

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class BackendChoice:
    backend: str
    reason: str


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
    choice = choose_backend(cpu_flags(), {family: not missing_packages(family) for family in ("openvino", "onnx")})
    log.info("encoder backend %s (auto: %s)", choice.backend, choice.reason)
    return choice


def resolve_backend(backend: str, model: str) -> str:
    """The concrete backend for a setting: `auto` becomes this machine's choice (the fake test encoder has
    no backends: torch stands for it); a named backend stays as given."""
    if backend != AUTO:
        return backend
    if is_fake_model(model):
        return "torch"
    return auto_backend().backend


def describe_backend(backend: str, model: str) -> str:
    """What start-up messages say: the backend new collections get, and why."""
    chosen = resolve_backend(backend, model)
    if backend != AUTO:
        return f"{chosen} (as set)"
    return f"{chosen} (auto: {'the fake encoder' if is_fake_model(model) else auto_backend().reason})"
