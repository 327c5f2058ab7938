"""Pydantic request and response models: the HTTP boundary's shapes (plain dataclasses live inside)."""
