"""The client's surface: one method per operation of the service's OpenAPI, the same on both clients, no torch."""

from __future__ import annotations

import inspect
import subprocess
import sys

from fastapi import FastAPI
from latent_client import AsyncLatentClient, LatentClient


def test_every_operation_of_the_service_has_a_method(app: FastAPI) -> None:
    """A route added to the service without a client method (or a method for a route that went) fails here."""
    spec = app.openapi()
    served = {op["operationId"] for path in spec["paths"].values() for op in path.values()}
    assert set(LatentClient.operations()) == served
    assert AsyncLatentClient.operations() == LatentClient.operations()


def test_methods_keep_the_signature_of_their_definition() -> None:
    """What IDEs and help() show for a bound method is the endpoint's own signature and docstring."""
    with LatentClient() as api:
        params = list(inspect.signature(api.search).parameters)
        assert params[:2] == ["collection", "query"] and "with_vector" in params
        assert api.search.__doc__ and "Top-k" in api.search.__doc__
        assert api.search.__name__ == "search"


def test_importing_the_client_loads_neither_torch_nor_the_service() -> None:
    code = (
        "import sys, latent_client\n"
        "heavy = ('torch', 'latent', 'service', 'indexer', 'fastapi', 'numpy')\n"
        "loaded = sorted(m for m in heavy if m in sys.modules)\n"
        "print(','.join(loaded))"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == ""
