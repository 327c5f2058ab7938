"""Batch indexing jobs and the `latent` command line."""
