"""Declared metadata field indexes per collection.

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-04
"""

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Placeholder: filled in by the feature that owns this revision."""


def downgrade() -> None:
    """Placeholder: filled in by the feature that owns this revision."""
