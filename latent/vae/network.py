"""Torch modules of the text VAE: an MLP encoder to (mu, log variance), a decoder back to the sphere."""

from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F


class Encoder(nn.Module):
    """x -> (mu, log sigma^2); LayerNorm keeps the small-data fit stable, dropout fights memorising."""

    def __init__(self, dimension: int, hidden_dim: int, latent_dim: int, dropout: float):
        super().__init__()
        self.body = nn.Sequential(
            nn.Linear(dimension, hidden_dim),
            nn.LayerNorm(hidden_dim),
            nn.GELU(),
            nn.Dropout(dropout),
        )
        self.mu = nn.Linear(hidden_dim, latent_dim)
        self.logvar = nn.Linear(hidden_dim, latent_dim)
        # A linear skip to mu: the PCA-like part generalises better than the MLP on a few thousand vectors.
        self.mu_skip = nn.Linear(dimension, latent_dim, bias=False)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        h = self.body(x)
        mu = self.mu(h) + self.mu_skip(x)
        logvar = self.logvar(h).clamp(-12.0, 6.0)
        return mu, logvar


class Decoder(nn.Module):
    """z -> unit vector: an MLP plus a linear path, added, then re-normalised to unit length."""

    def __init__(self, dimension: int, hidden_dim: int, latent_dim: int, dropout: float):
        super().__init__()
        self.body = nn.Sequential(
            nn.Linear(latent_dim, hidden_dim),
            nn.LayerNorm(hidden_dim),
            nn.GELU(),
            nn.Dropout(dropout),
            nn.Linear(hidden_dim, dimension),
        )
        self.skip = nn.Linear(latent_dim, dimension)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return F.normalize(self.body(z) + self.skip(z), dim=-1, eps=1e-8)


class VAENetwork(nn.Module):
    """Encoder and decoder together; `forward` draws one reparameterised sample per row."""

    def __init__(self, dimension: int, hidden_dim: int, latent_dim: int, dropout: float = 0.0):
        super().__init__()
        self.encoder = Encoder(dimension, hidden_dim, latent_dim, dropout)
        self.decoder = Decoder(dimension, hidden_dim, latent_dim, dropout)

    def forward(
        self, x: torch.Tensor, generator: torch.Generator | None = None
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        mu, logvar = self.encoder(x)
        eps = torch.randn(mu.shape, generator=generator, dtype=mu.dtype)
        z = mu + eps * torch.exp(0.5 * logvar)
        return self.decoder(z), mu, logvar


def kl_per_dim(mu: torch.Tensor, logvar: torch.Tensor) -> torch.Tensor:
    """KL(q(z|x) || N(0, I)) for each row and latent dimension, in nats."""
    return 0.5 * (mu.pow(2) + logvar.exp() - 1.0 - logvar)
