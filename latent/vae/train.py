"""The VAE training loop: KL warm-up, free bits, input noise, progress reports and cancellation."""

from __future__ import annotations

import copy
import math
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from latent.errors import InvalidInput
from latent.jobs import JobCancelled, Progress, ShouldStop

if TYPE_CHECKING:
    import torch

    from latent.vae.network import VAENetwork


@dataclass(frozen=True)
class TrainConfig:
    """The estimator's training parameters, validated, in one place."""

    latent_dim: int
    hidden_dim: int
    beta: float
    epochs: int
    batch_size: int
    lr: float
    kl_warmup_epochs: int
    free_bits: float
    noise: float
    weight_decay: float
    dropout: float
    seed: int


@dataclass
class TrainResult:
    """What training hands back: the best network (by validation loss) and the per-epoch history."""

    network: VAENetwork
    history: list[dict[str, float]] = field(default_factory=list)
    best_epoch: int = 0


@contextmanager
def limit_threads(n: int | None) -> Iterator[None]:
    """Run torch and the BLAS under NumPy with `n` threads, then restore.

    Tiny matmuls on a busy 2-core machine run ~20x slower with 2 spinning OpenMP threads than with 1.
    The limit is process-wide while it lasts, so other work in the process shares it.
    """
    import torch

    if n is None:
        yield
        return
    previous = torch.get_num_threads()
    torch.set_num_threads(n)
    try:
        try:
            from threadpoolctl import threadpool_limits
        except ImportError:  # pragma: no cover - threadpoolctl comes with scikit-learn
            yield
        else:
            with threadpool_limits(limits=n):
                yield
    finally:
        torch.set_num_threads(previous)


INT_PARAMS = {
    "latent_dim": (1, 4096), "hidden_dim": (1, 65536), "epochs": (1, 100_000), "batch_size": (1, 1_000_000),
    "kl_warmup_epochs": (0, 100_000), "prior_components": (1, 1024),
}  # fmt: skip
FLOAT_PARAMS = {
    "beta": (0.0, 1e6), "lr": (1e-12, 10.0), "free_bits": (0.0, 100.0), "noise": (0.0, 10.0),
    "weight_decay": (0.0, 10.0), "dropout": (0.0, 0.95), "val_fraction": (0.0, 0.5),
}  # fmt: skip


def make_config(params: dict[str, Any], seed: int, priors: tuple[str, ...]) -> TrainConfig:
    """Validate the estimator's parameters (InvalidInput names the bad one) into a TrainConfig."""
    from latent.vae.ops import check_positive_int

    for name, (low, high) in INT_PARAMS.items():
        check_positive_int(params[name], name, minimum=low, maximum=high)
    for name, (low, high) in FLOAT_PARAMS.items():
        value = params[name]
        if isinstance(value, bool) or not isinstance(value, int | float) or not low <= value <= high:
            raise InvalidInput(
                f"{name} must be a number in [{low}, {high}], got {value!r}", details={"parameter": name}
            )
    if params["n_threads"] is not None:
        check_positive_int(params["n_threads"], "n_threads", maximum=1024)
    if params["prior"] not in priors:
        raise InvalidInput(f"prior must be one of {priors}, got {params['prior']!r}", details={"parameter": "prior"})
    fields = TrainConfig.__dataclass_fields__
    return TrainConfig(**{k: v for k, v in params.items() if k in fields and k != "seed"}, seed=seed)


def reconstruction_scale(dimension: int) -> float:
    """Weight of (1 - cosine): a von Mises-Fisher likelihood with concentration = dimension."""
    return float(dimension)


def train_network(
    x_train: np.ndarray,
    x_val: np.ndarray,
    config: TrainConfig,
    progress: Progress | None = None,
    should_stop: ShouldStop | None = None,
) -> TrainResult:
    """Fit a fresh VAENetwork on unit vectors; keeps the weights of the epoch with the best validation loss.

    Runs inside a forked, seeded torch RNG state (initialisation and dropout draw from the global generator),
    so the same seed gives the same network and the caller's generators are left untouched.
    """
    import torch

    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(config.seed)
        return _train(x_train, x_val, config, progress, should_stop)


def _train(
    x_train: np.ndarray,
    x_val: np.ndarray,
    config: TrainConfig,
    progress: Progress | None,
    should_stop: ShouldStop | None,
) -> TrainResult:
    import torch

    from latent.vae.network import VAENetwork

    network = VAENetwork(x_train.shape[1], config.hidden_dim, config.latent_dim, config.dropout)
    generator = torch.Generator().manual_seed(config.seed)
    train = torch.from_numpy(np.ascontiguousarray(x_train, dtype=np.float32))
    val = torch.from_numpy(np.ascontiguousarray(x_val, dtype=np.float32)) if len(x_val) else train
    batch_size = min(config.batch_size, len(train))
    steps_per_epoch = math.ceil(len(train) / batch_size)
    optimiser = torch.optim.AdamW(network.parameters(), lr=config.lr, weight_decay=config.weight_decay)
    schedule = torch.optim.lr_scheduler.OneCycleLR(
        optimiser, max_lr=config.lr, total_steps=config.epochs * steps_per_epoch, pct_start=0.1
    )
    kappa = reconstruction_scale(train.shape[1])
    result = TrainResult(network=network)
    best_loss, best_state = math.inf, None
    for epoch in range(config.epochs):
        if should_stop is not None and should_stop():
            raise JobCancelled(
                f"VAE training cancelled after {epoch} of {config.epochs} epochs",
                details={"epoch": epoch, "epochs": config.epochs},
            )
        beta = config.beta * min(1.0, (epoch + 1) / max(1, config.kl_warmup_epochs))
        sums = _train_epoch(network, optimiser, schedule, train, batch_size, beta, kappa, config, generator)
        val_stats = evaluate_batch(network, val, kappa)
        # Loss with the full beta so epochs during warm-up are not favoured for their smaller KL weight.
        val_loss = kappa * (1.0 - val_stats["recon_cosine"]) + config.beta * val_stats["kl"]
        if epoch + 1 >= config.kl_warmup_epochs and val_loss < best_loss:
            best_loss, result.best_epoch = val_loss, epoch + 1
            best_state = copy.deepcopy(network.state_dict())
        report = {
            "epoch": epoch + 1,
            "epochs": config.epochs,
            "loss": sums["loss"],
            "recon_cosine": sums["recon_cosine"],
            "kl": sums["kl"],
            "val_recon_cosine": val_stats["recon_cosine"],
        }
        result.history.append(report)
        if progress is not None:
            progress((epoch + 1) / config.epochs, epoch_message(report))
    if best_state is not None:
        network.load_state_dict(best_state)
    else:
        result.best_epoch = config.epochs
    network.eval()
    return result


def epoch_message(report: dict[str, Any]) -> str:
    """One epoch's figures as the progress message (the dicts themselves are kept in `history_`)."""
    return (
        f"epoch {report['epoch']}/{report['epochs']} loss {report['loss']:.4f} "
        f"recon_cosine {report['recon_cosine']:.4f} kl {report['kl']:.3f} "
        f"val_recon_cosine {report['val_recon_cosine']:.4f}"
    )


def _train_epoch(
    network: VAENetwork,
    optimiser: torch.optim.Optimizer,
    schedule: torch.optim.lr_scheduler.LRScheduler,
    train: torch.Tensor,
    batch_size: int,
    beta: float,
    kappa: float,
    config: TrainConfig,
    generator: torch.Generator,
) -> dict[str, float]:
    """One pass over shuffled mini-batches; returns row-weighted means of loss, cosine and KL."""
    import torch
    from torch.nn import functional as F

    from latent.vae.network import kl_per_dim

    network.train()
    order = torch.randperm(len(train), generator=generator)
    totals = {"loss": 0.0, "recon_cosine": 0.0, "kl": 0.0}
    noise_std = config.noise / math.sqrt(train.shape[1])
    for start in range(0, len(train), batch_size):
        x = train[order[start : start + batch_size]]
        # Denoising: perturb the input on the sphere, reconstruct the clean vector.
        x_in = F.normalize(x + noise_std * torch.randn(x.shape, generator=generator), dim=-1) if noise_std else x
        mu, logvar = network.encoder(x_in)
        z = mu + torch.randn(mu.shape, generator=generator) * torch.exp(0.5 * logvar)
        cosine = (network.decoder(z) * x).sum(-1)
        kl_dims = kl_per_dim(mu, logvar).mean(0)
        # Free bits: KL below the floor costs nothing, so the optimiser has no reason to shut a dimension.
        kl_term = torch.clamp(kl_dims, min=config.free_bits).sum() if config.free_bits > 0 else kl_dims.sum()
        loss = kappa * (1.0 - cosine).mean() + beta * kl_term
        optimiser.zero_grad(set_to_none=True)
        loss.backward()
        optimiser.step()
        schedule.step()
        rows = len(x)
        totals["loss"] += loss.item() * rows
        totals["recon_cosine"] += cosine.detach().mean().item() * rows
        totals["kl"] += kl_dims.detach().sum().item() * rows
    return {key: value / len(train) for key, value in totals.items()}


def evaluate_batch(network: VAENetwork, x: torch.Tensor, kappa: float) -> dict[str, float]:
    """Reconstruction cosine (decoding the posterior mean) and KL on `x`, in eval mode, without gradients."""
    import torch

    from latent.vae.network import kl_per_dim

    was_training = network.training
    network.eval()
    with torch.no_grad():
        mu, logvar = network.encoder(x)
        cosine = (network.decoder(mu) * x).sum(-1)
        kl = kl_per_dim(mu, logvar).sum(-1)
    network.train(was_training)
    return {"recon_cosine": float(cosine.mean()), "kl": float(kl.mean())}
