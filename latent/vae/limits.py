"""Request limits of the VAE operations, shared by the operations (runs) and the grounding."""

from __future__ import annotations

from typing import Any

from latent.vae.ops import check_positive_int

MAX_STEPS = 100
MAX_SAMPLES = 1000
MAX_K = 100


def check_count(value: Any, name: str, maximum: int, minimum: int = 1) -> int:
    """`value` as an int in [minimum, maximum], else InvalidInput naming the argument."""
    return check_positive_int(value, name, minimum=minimum, maximum=maximum)
