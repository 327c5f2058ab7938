"""Learned artifacts (maps, clusterings, VAE checkpoints) stored in the database for every replica.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-04
"""

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Placeholder: filled in by the feature that owns this revision."""


def downgrade() -> None:
    """Placeholder: filled in by the feature that owns this revision."""
