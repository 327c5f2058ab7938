"""Test helpers: tiny corpora, file writers, an in-process `latent` runner and a throw-away PostgreSQL."""
