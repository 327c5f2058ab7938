"""Ingest: documents in, chunks with token ids out, and the plan of what an upsert changes."""
