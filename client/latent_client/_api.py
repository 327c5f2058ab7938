"""Every endpoint, gathered from the area modules: the one surface both clients expose."""

from __future__ import annotations

from latent_client._analysis import AnalysisEndpoints
from latent_client._data import DataEndpoints
from latent_client._endpoint import endpoint
from latent_client._query import QueryEndpoints


class Endpoints(DataEndpoints, QueryEndpoints, AnalysisEndpoints):
    """The endpoint methods; a subclass supplies `_transport` (sync or async) to run their `Call`s."""

    @classmethod
    def operations(cls) -> dict[str, str]:
        """OpenAPI operation id → client method name, for every endpoint this client covers."""
        found: dict[str, str] = {}
        for klass in reversed(cls.__mro__):
            for name, value in vars(klass).items():
                if isinstance(value, endpoint):
                    found[value.operation] = name
        return found
