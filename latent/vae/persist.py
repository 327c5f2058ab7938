"""Versioned, atomic save/load of a fitted TextVAE (one torch file: params, weights, prior, metrics)."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import Any

import numpy as np

from latent.errors import InvalidInput, NotFound

FORMAT = "latent-text-vae"
FORMAT_VERSION = 1


def atomic_write_bytes(path: Path, data: bytes) -> None:
    """Write `data` so readers see either the old file or the whole new one: temp file, fsync, os.replace."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    try:  # make the rename itself durable; not every platform lets a directory be opened
        dir_fd = os.open(path.parent, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(dir_fd)
    finally:
        os.close(dir_fd)


def write_payload(path: str | os.PathLike[str], payload: dict[str, Any]) -> None:
    """Serialise a payload (tensors, numbers, strings, lists, dicts) with the format header."""
    import io

    import torch

    buffer = io.BytesIO()
    torch.save({"format": FORMAT, "version": FORMAT_VERSION, **payload}, buffer)
    atomic_write_bytes(Path(path), buffer.getvalue())


def read_payload(path: str | os.PathLike[str]) -> dict[str, Any]:
    """Read a payload back, refusing files that are not a VAE of a format version this code knows."""
    import pickle

    import torch

    file = Path(path)
    if not file.is_file():
        raise NotFound(f"no VAE model file at {str(file)!r}", details={"path": str(file)})
    try:
        # weights_only: a model file is data, never code to unpickle.
        payload = torch.load(file, map_location="cpu", weights_only=True)
    except (pickle.UnpicklingError, RuntimeError, EOFError, ValueError) as exc:
        raise InvalidInput(
            f"{str(file)!r} is not a readable VAE model file: {exc}", details={"path": str(file)}
        ) from exc
    if not isinstance(payload, dict) or payload.get("format") != FORMAT:
        raise InvalidInput(f"{str(file)!r} is not a Latent VAE model file", details={"path": str(file)})
    version = payload.get("version")
    if version != FORMAT_VERSION:
        raise InvalidInput(
            f"VAE model file format version {version!r} is not supported (expected {FORMAT_VERSION})",
            details={"path": str(file), "version": version, "supported": [FORMAT_VERSION]},
        )
    return payload


def save_model(model: Any, path: str | os.PathLike[str]) -> None:
    """Store a fitted TextVAE: constructor params, network weights, prior, reference ELBOs, metrics."""
    import torch

    write_payload(
        path,
        {
            "params": model.get_params(),
            "dimension": int(model.dimension_),
            "state_dict": {k: v.detach().clone() for k, v in model.network_.state_dict().items()},
            "prior": {
                "kind": model.prior_.kind,
                "weights": torch.from_numpy(np.asarray(model.prior_.weights, dtype=np.float64).copy()),
                "means": torch.from_numpy(model.prior_.means.copy()),
                "chols": torch.from_numpy(model.prior_.chols.copy()),
            },
            "kappa": float(model.kappa_),
            "reference_elbo": torch.from_numpy(model.reference_elbo_.copy()),
            "metrics": dict(model.metrics_),
            "history": [dict(h) for h in model.history_],
        },
    )


def load_model(cls: type, path: str | os.PathLike[str]) -> Any:
    """Rebuild a TextVAE (class `cls`) from a file written by `save_model`."""
    from latent.vae.network import VAENetwork
    from latent.vae.prior import LatentPrior

    payload = read_payload(path)
    try:
        params = dict(payload["params"])
        model = cls(**params)
        network = VAENetwork(int(payload["dimension"]), model.hidden_dim, model.latent_dim, model.dropout)
        network.load_state_dict(payload["state_dict"], strict=True)
        network.eval()
        model.network_ = network
        model.dimension_ = model.n_features_in_ = int(payload["dimension"])
        prior = payload["prior"]
        model.prior_ = LatentPrior(
            kind=str(prior["kind"]),
            weights=prior["weights"].numpy().astype(np.float64),
            means=prior["means"].numpy().astype(np.float32),
            chols=prior["chols"].numpy().astype(np.float32),
        )
        model.kappa_ = float(payload["kappa"])
        model.reference_elbo_ = payload["reference_elbo"].numpy().astype(np.float32)
        model.metrics_ = dict(payload["metrics"])
        model.history_ = [dict(h) for h in payload["history"]]
    except (KeyError, TypeError, RuntimeError, AttributeError) as exc:
        raise InvalidInput(
            f"VAE model file {str(path)!r} is incomplete or does not match this code: {exc}",
            details={"path": str(path)},
        ) from exc
    return model
