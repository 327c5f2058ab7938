"""Sparse search on PostgreSQL (tsvector + GIN) and per-collection BM25 statistics.

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-04
"""

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Placeholder: filled in by the feature that owns this revision."""


def downgrade() -> None:
    """Placeholder: filled in by the feature that owns this revision."""
