"""Quality figures of a fitted TextVAE: held-out reconstruction, KL, active units, self-retrieval."""

from __future__ import annotations

from typing import Any, Protocol

import numpy as np

from latent.vae import ops


class TextVAE(Protocol):
    """What the figures need of a fitted TextVAE (a protocol, so this module need not import the model's)."""

    def encode(self, X: Any) -> tuple[np.ndarray, np.ndarray]: ...

    def decode(self, Z: Any) -> np.ndarray: ...


RETRIEVAL_QUERIES = 1000


def kl_to_standard(mu: np.ndarray, sigma: np.ndarray) -> np.ndarray:
    """KL(N(mu, sigma^2) || N(0, I)) per row, in nats."""
    mu64, sigma64 = mu.astype(np.float64), np.maximum(sigma.astype(np.float64), 1e-30)
    return 0.5 * (mu64**2 + sigma64**2 - 1.0 - 2.0 * np.log(sigma64)).sum(axis=1)


def evaluate(model: TextVAE, x_train: np.ndarray, x_val: np.ndarray) -> dict[str, Any]:
    """Figures on the validation split (or the training data when there is none).

    self_retrieval_top1: share of (up to 1,000) held-out vectors whose reconstruction decode(mu) has the
    original as its nearest neighbour among all fitted vectors, training and validation together.
    active_units: latent dimensions whose posterior mean has variance > 0.01 over all fitted vectors.
    """
    held = x_val if len(x_val) else x_train
    corpus = np.concatenate([x_train, x_val])
    offset = len(x_train) if len(x_val) else 0
    pick = np.sort(np.random.default_rng(0).choice(len(held), size=min(len(held), RETRIEVAL_QUERIES), replace=False))
    mu_held, sigma_held = model.encode(held)
    recon = model.decode(mu_held)
    mu_all, _ = model.encode(corpus)
    train_recon = model.decode(mu_all[: len(x_train)])
    return {
        "val_recon_cosine": float((recon * held).sum(axis=1).mean()),
        "train_recon_cosine": float((train_recon * x_train).sum(axis=1).mean()),
        "kl": float(kl_to_standard(mu_held, sigma_held).mean()),
        "active_units": ops.active_units(mu_all),
        "latent_dim": int(mu_all.shape[1]),
        "self_retrieval_top1": ops.self_retrieval_rate(recon[pick], corpus, pick + offset),
        "self_retrieval_queries": int(len(pick)),
        "n_train": int(len(x_train)),
        "n_val": int(len(x_val)),
    }
