"""TextVAE: an sklearn-style variational autoencoder over unit-length text embeddings (NumPy in and out)."""

from __future__ import annotations

import inspect
import os
import time
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
from numpy.typing import ArrayLike

from latent.errors import Conflict, InvalidInput
from latent.jobs import Progress, ShouldStop
from latent.vae import ops
from latent.vae.prior import PRIORS
from latent.vae.train import limit_threads, make_config
from latent.vae.vmf import fit_kappa, log_normaliser, sample_vmf
from latent.vectors import as_vectors

if TYPE_CHECKING:
    from latent.vae.network import VAENetwork

_ELBO_SAMPLES = 8
_ELBO_SEED = 20240601
_BATCH = 4096


_UNIT = {"normalise": True, "allow_zero": False}  # embeddings are directions: unit length, never zero


class TextVAE:
    """Variational autoencoder for sentence embeddings.

    The encoder maps a unit vector to a diagonal Gaussian posterior in a `latent_dim` space; the decoder maps
    a latent point to the mean direction of a von Mises-Fisher distribution on the unit sphere. Training
    minimises dimension·(1 - cosine) + beta·KL with a KL warm-up and per-dimension free bits (against
    posterior collapse), input noise, dropout and weight decay (against memorising a few thousand vectors),
    keeping the epoch with the best validation loss. After training, the vMF concentration `kappa_` is fitted
    on the validation split, and a sampling prior `prior_` on the training posteriors: "mixture" (k-means
    clusters with shrunk full covariances), "gaussian" (one moment-matched Gaussian) or "standard" N(0, I).
    """

    def __init__(
        self,
        latent_dim: int = 128,
        hidden_dim: int = 512,
        beta: float = 0.25,
        epochs: int = 100,
        batch_size: int = 256,
        lr: float = 3e-3,
        kl_warmup_epochs: int = 20,
        free_bits: float = 0.05,
        noise: float = 0.1,
        weight_decay: float = 1e-4,
        dropout: float = 0.1,
        val_fraction: float = 0.1,
        prior: str = "mixture",
        prior_components: int = 64,
        n_threads: int | None = 1,
        random_state: int | None = 0,
    ):
        self.latent_dim = latent_dim
        self.hidden_dim = hidden_dim
        self.beta = beta
        self.epochs = epochs
        self.batch_size = batch_size
        self.lr = lr
        self.kl_warmup_epochs = kl_warmup_epochs
        self.free_bits = free_bits
        self.noise = noise
        self.weight_decay = weight_decay
        self.dropout = dropout
        self.val_fraction = val_fraction
        self.prior = prior
        self.prior_components = prior_components
        self.n_threads = n_threads
        self.random_state = random_state

    # -- sklearn plumbing ---------------------------------------------------------------------------------

    @classmethod
    def _param_names(cls) -> list[str]:
        return [p for p in inspect.signature(cls.__init__).parameters if p != "self"]

    def get_params(self, deep: bool = True) -> dict[str, Any]:
        """The constructor parameters (sklearn convention)."""
        return {name: getattr(self, name) for name in self._param_names()}

    def set_params(self, **params: Any) -> TextVAE:
        """Change constructor parameters; takes effect at the next `fit`."""
        unknown = sorted(set(params) - set(self._param_names()))
        if unknown:
            raise InvalidInput(f"unknown VAE parameters: {', '.join(unknown)}", details={"unknown": unknown})
        for name, value in params.items():
            setattr(self, name, value)
        return self

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self.get_params().items())
        return f"TextVAE({args})"

    @property
    def is_fitted(self) -> bool:
        return hasattr(self, "network_")

    def _require_fitted(self) -> VAENetwork:
        if not self.is_fitted:
            raise Conflict("the VAE has not been trained yet; call fit first", code="vae_not_fitted")
        return self.network_

    # -- learning -----------------------------------------------------------------------------------------

    def fit(
        self,
        X: ArrayLike,
        y: None = None,
        *,
        validation: ArrayLike | None = None,
        progress: Progress | None = None,
        should_stop: ShouldStop | None = None,
    ) -> TextVAE:
        """Learn from embeddings X (n, d); rows are normalised to unit length.

        Args:
            validation: held-out vectors; when None, `val_fraction` of X is split off (seeded).
            progress: called after every epoch as progress(fraction_done, "epoch 3/60 loss … kl …"); the
                epochs' figures {epoch, epochs, loss, recon_cosine, kl, val_recon_cosine} end up in `history_`.
            should_stop: polled before every epoch; when it returns True, JobCancelled is raised and
                the estimator keeps whatever state it had before this call.
        """
        from latent.vae.metrics import evaluate
        from latent.vae.prior import fit_prior
        from latent.vae.train import train_network

        started = time.perf_counter()
        seed = int(np.random.default_rng().integers(2**31 - 1)) if self.random_state is None else int(self.random_state)
        config = make_config(self.get_params(), seed, PRIORS)
        data = as_vectors(X, name="X", **_UNIT)
        if len(data) < 4:
            raise InvalidInput("the VAE needs at least 4 vectors to train", details={"count": len(data)})
        if validation is not None:
            x_train, x_val = data, as_vectors(validation, data.shape[1], name="validation", **_UNIT)
        else:
            order = np.random.default_rng(seed).permutation(len(data))
            n_val = int(round(self.val_fraction * len(data)))
            x_val, x_train = data[np.sort(order[:n_val])], data[np.sort(order[n_val:])]
        with limit_threads(self.n_threads):
            result = train_network(x_train, x_val, config, progress=progress, should_stop=should_stop)
            # Build the learned state on a fresh estimator so a failure below leaves `self` untouched.
            fitted = type(self)(**self.get_params())
            fitted.network_ = result.network
            fitted.dimension_ = fitted.n_features_in_ = int(data.shape[1])
            fitted.history_ = result.history
            mu, sigma = fitted.encode(x_train)
            fitted.prior_ = fit_prior(self.prior, mu, sigma, self.prior_components, seed)
            # The likelihood's concentration, fitted where it matters: on vectors the model did not train on.
            held = x_val if len(x_val) else x_train
            expected = fitted._expected_cosine(held, *fitted.encode(held))
            fitted.kappa_ = fit_kappa(float(expected.mean()), fitted.dimension_)
            fitted.reference_elbo_ = np.sort(fitted.elbo(np.concatenate([x_train, x_val]))).astype(np.float32)
            metrics = evaluate(fitted, x_train, x_val)
        metrics |= {
            "kappa": float(fitted.kappa_),
            "best_epoch": int(result.best_epoch),
            "epochs_run": len(result.history),
            "training_seconds": float(time.perf_counter() - started),
        }
        fitted.metrics_ = metrics
        self.__dict__.update({k: v for k, v in fitted.__dict__.items() if k.endswith("_")})
        return self

    # -- encoding and decoding ----------------------------------------------------------------------------

    def encode(self, X: ArrayLike) -> tuple[np.ndarray, np.ndarray]:
        """Posterior mean and standard deviation for each row of X: two float32 (n, latent_dim) arrays."""
        import torch

        network = self._require_fitted()
        x = as_vectors(X, self.dimension_, name="X", **_UNIT)
        mus, sigmas = [], []
        with torch.no_grad():
            for start in range(0, len(x), _BATCH):
                mu, logvar = network.encoder(torch.from_numpy(x[start : start + _BATCH]))
                mus.append(mu.numpy())
                sigmas.append(torch.exp(0.5 * logvar).numpy())
        return np.concatenate(mus).astype(np.float32), np.concatenate(sigmas).astype(np.float32)

    def decode(self, Z: ArrayLike) -> np.ndarray:
        """Unit-length embeddings (n, d) for latent points Z (n, latent_dim)."""
        import torch

        network = self._require_fitted()
        z = as_vectors(Z, self.latent_dim, name="latent points")
        out = []
        with torch.no_grad():
            for start in range(0, len(z), _BATCH):
                out.append(network.decoder(torch.from_numpy(z[start : start + _BATCH])).numpy())
        return np.concatenate(out).astype(np.float32)

    def reconstruct(self, X: ArrayLike) -> np.ndarray:
        """decode(encode(X).mu): the model's version of each vector."""
        return self.decode(self.encode(X)[0])

    # -- density ------------------------------------------------------------------------------------------

    def _expected_cosine(self, x: np.ndarray, mu: np.ndarray, sigma: np.ndarray) -> np.ndarray:
        """E_q(z|x)[cos(x, decode(z))] per row, over a fixed set of posterior draws (deterministic)."""
        rng = np.random.default_rng(_ELBO_SEED)
        total = np.zeros(len(x), dtype=np.float64)
        for _ in range(_ELBO_SAMPLES):
            z = mu + sigma * rng.standard_normal(mu.shape).astype(np.float32)
            total += (self.decode(z) * x).sum(axis=1)
        return total / _ELBO_SAMPLES

    def elbo(self, X: ArrayLike) -> np.ndarray:
        """Evidence lower bound on log p(x) per row, in nats (float32, shape (n,)); higher = more typical.

        E_q[log vMF(x | decode(z), kappa_)] - KL(q(z|x) || N(0, I)), the expectation over a fixed set of
        posterior draws, so the same input always gets the same value.
        """
        from latent.vae.metrics import kl_to_standard

        self._require_fitted()
        x = as_vectors(X, self.dimension_, name="X", **_UNIT)
        mu, sigma = self.encode(x)
        log_c = log_normaliser(self.dimension_, float(self.kappa_))
        expected = self._expected_cosine(x, mu, sigma)
        return (self.kappa_ * expected + log_c - kl_to_standard(mu, sigma)).astype(np.float32)

    def plausibility_percentile(self, values: ArrayLike) -> np.ndarray:
        """Percent (0-100) of the training vectors whose ELBO is at or below each of `values`."""
        self._require_fitted()
        return ops.percentile_of(values, self.reference_elbo_)

    # -- operations ---------------------------------------------------------------------------------------

    def interpolate(self, a: ArrayLike, b: ArrayLike, steps: int = 8, method: str = "lerp") -> np.ndarray:
        """`steps` unit vectors from a to b at t = linspace(0, 1, steps), both ends included.

        "lerp" moves in a straight line between the posterior means and decodes every point; "slerp"
        follows the great circle between the two embeddings themselves.
        """
        self._require_fitted()
        t = ops.interpolation_times(steps)
        if method not in ops.METHODS:
            raise InvalidInput(f"method must be one of {ops.METHODS}, got {method!r}", details={"method": method})
        ends = np.concatenate([self._one(a, "a"), self._one(b, "b")])
        if method == "slerp":
            return ops.slerp(ends[0], ends[1], t)
        mu, _ = self.encode(ends)
        return self.decode(ops.lerp(mu[0], mu[1], t))

    def sample(
        self,
        n: int,
        seed: int | None = None,
        anchor: ArrayLike | None = None,
        temperature: float = 1.0,
        *,
        observation_noise: bool = False,
    ) -> np.ndarray:
        """`n` new unit vectors (n, d): from the sampling prior, or around `anchor`'s posterior when given.

        Each draw is z from the prior (or from N(mu, sigma^2) of the anchor), decoded. With
        `observation_noise`, x is then drawn from the decoder's vMF likelihood around decode(z) (the full
        generative model: as spread out as real documents, but each sample further from any of them).
        temperature scales both spreads (0: no randomness). The same seed gives the same samples.
        """
        self._require_fitted()
        n = ops.check_positive_int(n, "n", maximum=100_000)
        if isinstance(temperature, bool) or not isinstance(temperature, int | float) or not 0 <= temperature <= 10:
            raise InvalidInput("temperature must be a number in [0, 10]", details={"temperature": temperature})
        rng = np.random.default_rng(seed)
        eps = rng.standard_normal((n, self.latent_dim)).astype(np.float32)
        if anchor is not None:
            mu, sigma = self.encode(self._one(anchor, "anchor"))
            z = mu + temperature * sigma * eps
        else:
            z = self.prior_.sample(eps, rng, temperature)
        means = self.decode(z)
        if not observation_noise or temperature == 0:
            return means
        return sample_vmf(means, float(self.kappa_) / temperature**2, rng)

    def arithmetic(self, terms: Sequence[tuple[float, ArrayLike]], offset: ArrayLike | None = None) -> np.ndarray:
        """Decode sum(weight · mu(vector)) + offset: e.g. [(1, a), (-1, b), (1, c)] or a direction as offset.

        Args:
            terms: (weight, embedding) pairs, combined through their posterior means.
            offset: an optional latent vector added before decoding (e.g. strength · attribute_direction).
        """
        self._require_fitted()
        weights, vectors = ops.combine_terms(terms)
        mu, _ = self.encode(np.concatenate([self._one(v, f"terms[{i}]") for i, v in enumerate(vectors)]))
        z = weights @ mu
        if offset is not None:
            z = z + as_vectors(offset, self.latent_dim, name="offset")[0]
        return self.decode(z[None, :])[0]

    def attribute_direction(self, vectors_with: ArrayLike, vectors_without: ArrayLike) -> np.ndarray:
        """Latent direction of an attribute: mean mu of vectors with it minus mean mu of those without."""
        mu_with, _ = self.encode(vectors_with)
        mu_without, _ = self.encode(vectors_without)
        return (mu_with.mean(axis=0) - mu_without.mean(axis=0)).astype(np.float32)

    @staticmethod
    def diversity(samples: ArrayLike) -> float:
        """Mean pairwise cosine of a set of vectors (lower = more diverse)."""
        return ops.mean_pairwise_cosine(samples)

    def _one(self, vector: ArrayLike, name: str) -> np.ndarray:
        """A single embedding as a (1, d) unit row; a matrix with more than one row is refused."""
        x = as_vectors(vector, self.dimension_, name=name, **_UNIT)
        if len(x) != 1:
            raise InvalidInput(f"{name} must be a single vector", details={"argument": name, "rows": len(x)})
        return x

    # -- persistence --------------------------------------------------------------------------------------

    def save(self, path: str | os.PathLike[str]) -> None:
        """Write the fitted model atomically (temp file, fsync, rename) in the versioned format."""
        from latent.vae.persist import save_model

        self._require_fitted()
        save_model(self, path)

    @classmethod
    def load(cls, path: str | os.PathLike[str]) -> TextVAE:
        """Read a model written by `save`; NotFound if missing, InvalidInput if not a known format."""
        from latent.vae.persist import load_model

        return load_model(cls, path)
