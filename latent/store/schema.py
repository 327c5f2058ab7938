"""Every table Latent declares, imported together so `metadata` (and Alembic autogenerate) sees them all."""

from latent.store import alias_models, auth_models, feature_models, models
from latent.store.base import Base

metadata = Base.metadata

__all__ = ["alias_models", "auth_models", "feature_models", "metadata", "models"]
