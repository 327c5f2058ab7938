"""ONNX Runtime (fp32 / dynamic int8) and OpenVINO (fp32 / static int8) encoders: export once, cache, load.

Exports go through sentence-transformers' own `backend=` support (optimum under the hood) from the local
model folder, never the hub. Each export is written into a temporary folder next to its final place and
renamed into it, so two processes exporting at once never see a half-written model (the loser of the
race discards its copy). The ONNX int8 model is dynamically quantized with the instruction set this CPU
has; the OpenVINO int8 model is statically quantized with NNCF (latent/embedder/ov_quantize.py).
"""

from __future__ import annotations

import hashlib
import importlib.util
import logging
import os
import re
import shutil
import tempfile
import time
from contextlib import contextmanager
from pathlib import Path

from latent.config import force_offline
from latent.embedder.base import Encoder
from latent.embedder.cpu import cpu_flags
from latent.embedder.sbert import SentenceTransformerEncoder, physical_cores
from latent.errors import InvalidInput, MissingDependency

BACKENDS = ("onnx", "onnx-int8", "openvino", "openvino-int8")
_EXTRA = {"onnx": "onnx", "onnx-int8": "onnx", "openvino": "openvino", "openvino-int8": "openvino"}
_NEEDS = {"onnx": ("onnxruntime", "optimum.onnxruntime"), "openvino": ("openvino", "optimum.intel", "nncf")}
FP32_FILE = "onnx/model.onnx"
OPENVINO_FILE = "openvino/openvino_model.xml"
OPENVINO_INT8_FILE = "openvino/openvino_model_qint8_static.xml"

log = logging.getLogger(__name__)


def quantization_config(cpuinfo: str | None = None) -> str:
    """The sentence-transformers int8 config matching this CPU: avx512_vnni > avx512 > avx2 (arm64 on ARM)."""
    flags = cpu_flags(cpuinfo)
    if "avx512_vnni" in flags or "avx512vnni" in flags:
        return "avx512_vnni"
    if "avx512f" in flags:
        return "avx512"
    if "asimd" in flags or os.uname().machine in ("aarch64", "arm64"):
        return "arm64"
    return "avx2"


def int8_file(config: str) -> str:
    return f"onnx/model_qint8_{config}.onnx"


def export_root(cache_dir: Path, model_path: Path, model_name: str, family: str) -> Path:
    """cache_dir/<model>-<fingerprint>-<family>: the fingerprint changes when the source weights do."""
    h = hashlib.sha256(str(Path(model_path).resolve()).encode())
    for weights in sorted(Path(model_path).glob("*.safetensors")) + sorted(Path(model_path).glob("*.bin")):
        st = weights.stat()
        h.update(f"{weights.name}:{st.st_size}:{int(st.st_mtime)}".encode())
    slug = re.sub(r"[^A-Za-z0-9._-]+", "-", Path(model_name).name or "model").strip("-") or "model"
    return Path(cache_dir) / f"{slug}-{h.hexdigest()[:10]}-{family}"


def missing_packages(family: str) -> list[str]:
    """The packages a backend family ('onnx' or 'openvino') needs that cannot be imported here."""
    return [m for m in _NEEDS[family] if _find_spec(m) is None]


def _require(backend: str) -> None:
    missing = missing_packages(_family(backend))
    if missing:
        raise MissingDependency(
            f"backend {backend!r} needs {', '.join(missing)}: pip install 'latent[{_EXTRA[backend]}]'",
            details={"backend": backend, "missing": missing, "extra": _EXTRA[backend]},
        )


def _family(backend: str) -> str:
    return "openvino" if backend.startswith("openvino") else "onnx"


def _find_spec(module: str) -> object | None:
    try:
        return importlib.util.find_spec(module)
    except (ImportError, ValueError):
        return None


# sentence-transformers warns 'no model.onnx found, exporting' and 'save it' (we do exactly that);
# optimum-intel warns it 'could not infer whether the model was already converted' on every local load.
_ADVICE_LOGGERS = ("sentence_transformers.backend.utils", "optimum.intel.openvino.modeling_base")


@contextmanager
def _quiet_export_advice():
    """Silence the libraries' advice about exporting, which is noise for a cached, once-only export."""
    loggers = [logging.getLogger(name) for name in _ADVICE_LOGGERS]
    levels = [logger.level for logger in loggers]
    for logger in loggers:
        logger.setLevel(logging.ERROR)
    try:
        yield
    finally:
        for logger, level in zip(loggers, levels, strict=True):
            logger.setLevel(level)


def _publish_dir(tmp: Path, final: Path) -> None:
    """Rename a finished export into place; if another process got there first, keep theirs."""
    try:
        os.rename(tmp, final)
    except OSError:
        if not (final / "modules.json").exists():
            raise
        shutil.rmtree(tmp, ignore_errors=True)


def _ensure_export(model_path: Path, final: Path, st_backend: str, marker: str) -> None:
    """Export the sentence-transformers folder with `st_backend` weights into `final` unless it is there."""
    if (final / marker).exists():
        return
    from sentence_transformers import SentenceTransformer

    final.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{final.name}.", dir=final.parent))
    try:
        log.info("exporting %s to %s (once; cached in %s)", model_path, st_backend, final)
        with _quiet_export_advice():
            model = SentenceTransformer(str(model_path), device="cpu", backend=st_backend, local_files_only=True)
        model.save_pretrained(str(tmp))
        if not (tmp / marker).exists():
            raise RuntimeError(f"{st_backend} export of {model_path} wrote no {marker}")
        _publish_dir(tmp, final)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)


def _ensure_int8(root: Path, config: str) -> None:
    """Quantize root's fp32 ONNX model into onnx/model_qint8_<config>.onnx (atomic file replace)."""
    target = root / int8_file(config)
    if target.exists():
        return
    from sentence_transformers import SentenceTransformer
    from sentence_transformers.backend import export_dynamic_quantized_onnx_model

    tmp = Path(tempfile.mkdtemp(prefix=f".{root.name}.int8.", dir=root.parent))
    try:
        fp32 = SentenceTransformer(
            str(root),
            device="cpu",
            backend="onnx",
            local_files_only=True,
            model_kwargs={"file_name": FP32_FILE},
        )
        export_dynamic_quantized_onnx_model(fp32, config, str(tmp))
        os.replace(tmp / int8_file(config), target)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def prepare_export(model_path: Path, model_name: str, backend: str, cache_dir: Path) -> tuple[Path, str]:
    """Make sure the backend's model files exist in the cache; returns (folder, file_name to load).

    The one-off export (and int8 calibration) takes seconds to a minute; its time is said once, when it
    happens (a WARNING, so that a bare `latent index` shows it without any logging set up).
    """
    started = time.perf_counter()
    root, file_name = _prepare(model_path, model_name, backend, cache_dir)
    seconds = time.perf_counter() - started
    if seconds > 1.0:
        log.warning("one-off %s export of %s took %.1f s; cached in %s", backend, model_name, seconds, root)
    return root, file_name


def _prepare(model_path: Path, model_name: str, backend: str, cache_dir: Path) -> tuple[Path, str]:
    if _family(backend) == "openvino":
        root = export_root(cache_dir, model_path, model_name, "openvino")
        _ensure_export(model_path, root, "openvino", OPENVINO_FILE)
        if backend == "openvino":
            return root, OPENVINO_FILE
        if not (root / OPENVINO_INT8_FILE).exists():
            from latent.embedder.ov_quantize import calibration_texts, quantize_openvino_int8

            with _quiet_export_advice():  # it loads the fp32 export, which optimum would warn about
                quantize_openvino_int8(root, OPENVINO_FILE, root / OPENVINO_INT8_FILE, calibration_texts())
        return root, OPENVINO_INT8_FILE
    root = export_root(cache_dir, model_path, model_name, "onnx")
    _ensure_export(model_path, root, "onnx", FP32_FILE)
    if backend == "onnx":
        return root, FP32_FILE
    config = quantization_config()
    _ensure_int8(root, config)
    return root, int8_file(config)


def load_accelerated_encoder(
    model_path: Path,
    model_name: str,
    *,
    backend: str,
    batch_size: int = 64,
    threads: int | None = None,
    cache_dir: Path,
) -> Encoder:
    """An Encoder running the local model on ONNX Runtime (fp32 or int8) or OpenVINO.

    Args:
        model_path: local sentence-transformers folder (never a hub id).
        model_name: the name the collection records (unchanged by the backend).
        backend: 'onnx', 'onnx-int8', 'openvino' or 'openvino-int8'.
        threads: intra-op threads (default: physical cores).
        cache_dir: where exports are kept, e.g. <home>/models.
    """
    if backend not in BACKENDS:
        raise InvalidInput(
            f"unknown encoder backend {backend!r}; choose torch or one of {', '.join(BACKENDS)}",
            details={"backend": backend},
        )
    _require(backend)
    force_offline()
    folder, file_name = prepare_export(Path(model_path), model_name, backend, Path(cache_dir))
    n_threads = threads or physical_cores()
    model_kwargs: dict[str, object] = {"file_name": file_name}
    if _family(backend) == "openvino":
        # No precision hint: on CPUs with AVX512_BF16 OpenVINO runs the fp32 graph in bf16 (2x, cosine 0.99998)
        model_kwargs["ov_config"] = {"INFERENCE_NUM_THREADS": str(n_threads)}
    else:
        import onnxruntime as ort

        options = ort.SessionOptions()
        options.intra_op_num_threads = n_threads
        options.inter_op_num_threads = 1
        model_kwargs["session_options"] = options
        model_kwargs["provider"] = "CPUExecutionProvider"
        # IO binding runs every call through the model's one shared IOBinding (not thread-safe); plain
        # `InferenceSession.run` is (the CPU default, but never leave it to optimum's defaults)
        model_kwargs["use_io_binding"] = False
    with _quiet_export_advice():
        encoder = SentenceTransformerEncoder(
            folder,
            model_name,
            device="cpu",
            batch_size=batch_size,
            threads=n_threads,
            backend=_family(backend),
            model_kwargs=model_kwargs,
        )
    encoder.backend = backend  # 'onnx-int8' is 'onnx' to sentence-transformers, but not to the collection
    make_thread_safe(encoder, _family(backend))
    return encoder


def inference_models(encoder: SentenceTransformerEncoder) -> list[object]:
    """The optimum models (OVModel / ORTModel) inside the encoder's sentence-transformers modules."""
    return [m for m in (getattr(module, "auto_model", None) for module in encoder.model) if m is not None]


def make_thread_safe(encoder: SentenceTransformerEncoder, family: str) -> None:
    """Let many threads encode with this one encoder at once (the server shares it across its thread pool).

    OpenVINO: one infer request per concurrent call (ov_requests.py); ONNX Runtime: `InferenceSession.run`
    is thread-safe, and the shared IOBinding is kept off. Anything else is serialised, with a warning.
    """
    from latent.embedder.ov_requests import install_request_pool

    models = inference_models(encoder)
    if family == "openvino":
        safe = bool(models) and all(install_request_pool(m) is not None for m in models)
    else:
        for model in models:
            if getattr(model, "use_io_binding", False):
                model.use_io_binding = False
        safe = bool(models) and all(hasattr(m, "session") for m in models)
    if not safe:
        log.warning(
            "backend %s: cannot give each call its own inference state with these optimum internals; "
            "encoding one batch at a time",
            encoder.backend,
        )
        encoder.serialise()
