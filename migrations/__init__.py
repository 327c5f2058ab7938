"""Alembic migrations of the metadata store; `latent.store.db.migrate` runs them on open."""
