"""Text VAE over sentence embeddings: train, encode/decode, interpolate, sample, arithmetic, plausibility."""

from latent.vae.model import TextVAE
from latent.vae.persist import FORMAT_VERSION
from latent.vae.prior import PRIORS

__all__ = ["TextVAE", "PRIORS", "FORMAT_VERSION"]
