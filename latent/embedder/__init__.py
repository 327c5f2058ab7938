"""Encoders turn text into L2-normalised float32 vectors; one protocol, several backends."""

from latent.embedder.base import Encoder, Tokenized
from latent.embedder.factory import encoder_identity, load_encoder, resolve_model_path

__all__ = ["Encoder", "Tokenized", "load_encoder", "resolve_model_path", "encoder_identity"]
