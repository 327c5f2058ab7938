"""Latent core: the metadata store and derived FAISS indexes."""
