"""Latent: embeddings, FAISS vectors with SQL metadata, maps and a text VAE."""

__version__ = "0.1.0"
