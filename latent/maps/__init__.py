"""Latent maps: the UMAP estimator, alignment between versions, quality figures, and stored runs."""
