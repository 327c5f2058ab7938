"""The FastAPI service: a thin HTTP shell over latent/."""
