"""`LATENT_BACKEND=auto` (the default): openvino-int8 only where the CPU has int8 dot products, else the fastest
fp32 backend installed; a named backend always wins; existing collections keep what they recorded."""

from __future__ import annotations

import pytest

from latent.config import get_settings
from latent.embedder.choice import auto_backend, choose_backend, describe_backend, resolve_backend
from latent.embedder.cpu import cpu_flags
from latent.embedder.factory import load_encoder

EVERYTHING = {"openvino": True, "onnx": True}

CPUINFO_VNNI = """processor : 0
flags		: fpu vme sse2 avx2 avx512f avx512_vnni
processor : 1
flags		: fpu vme sse2 avx2 avx512f avx512_vnni
"""
CPUINFO_AVX2 = "processor : 0\nflags : fpu sse2 avx2 fma\n"
CPUINFO_ARM = "processor : 0\nFeatures : fp asimd evtstrm aes\n"


def test_cpu_flags_parse_x86_and_arm() -> None:
    assert {"avx2", "avx512_vnni"} <= cpu_flags(CPUINFO_VNNI)
    assert "flags" not in cpu_flags(CPUINFO_AVX2)
    assert "asimd" in cpu_flags(CPUINFO_ARM)


@pytest.mark.parametrize(
    ("cpuinfo", "available", "expected"),
    [
        (CPUINFO_VNNI, EVERYTHING, "openvino-int8"),
        ("flags : avx2 avx_vnni\n", EVERYTHING, "openvino-int8"),
        ("flags : avx512f amx_tile amx_int8\n", EVERYTHING, "openvino-int8"),
        (CPUINFO_AVX2, EVERYTHING, "openvino"),  # int8 without VNNI is slower and less exact than fp32
        (CPUINFO_ARM, EVERYTHING, "openvino"),
        (CPUINFO_VNNI, {"openvino": False, "onnx": True}, "onnx"),
        (CPUINFO_VNNI, {"openvino": False, "onnx": False}, "torch"),
        (CPUINFO_AVX2, {}, "torch"),
    ],
)
def test_the_rule(cpuinfo: str, available: dict[str, bool], expected: str) -> None:
    choice = choose_backend(cpu_flags(cpuinfo), available)
    assert choice.backend == expected
    assert choice.reason  # said at start-up


def test_a_named_backend_wins_and_the_fake_encoder_has_none() -> None:
    assert resolve_backend("onnx", "all-MiniLM-L6-v2") == "onnx"
    assert resolve_backend("auto", "fake") == resolve_backend("auto", "fake:384") == "torch"
    assert resolve_backend("auto", "all-MiniLM-L6-v2") == auto_backend().backend
    assert describe_backend("torch", "all-MiniLM-L6-v2") == "torch (as set)"
    assert describe_backend("auto", "all-MiniLM-L6-v2").startswith(f"{auto_backend().backend} (auto: ")


def test_this_machine_choice_matches_its_cpu() -> None:
    """On a CPU with VNNI/AMX and the openvino extra installed (make install does), auto is openvino-int8."""
    flags = cpu_flags()
    int8 = bool(flags & {"avx512_vnni", "avx_vnni", "amx_int8"})
    choice = auto_backend()
    assert (choice.backend == "openvino-int8") == (int8 and choice.backend.startswith("openvino"))
    assert get_settings().backend == "auto"


@pytest.mark.slow
def test_new_collections_get_the_choice_and_old_ones_keep_theirs(tmp_path, model_cache) -> None:
    from latent.store.store import Store

    settings = get_settings(home=tmp_path / "home", model="all-MiniLM-L6-v2", model_cache=model_cache)
    with Store(settings) as store:
        old = store.create_collection("old", backend="torch")
        new = store.create_collection("new")
        assert old.backend == "torch" and new.backend == auto_backend().backend
        assert new.encoder.backend == new.backend
    with Store(settings) as store:  # reopened under auto: the torch collection still encodes with torch
        assert store.collection("old").encoder.backend == "torch"
    assert load_encoder(settings).backend == auto_backend().backend
