"""`@endpoint`: an endpoint written once as a function returning its `Call`, callable on both clients.

On a `LatentClient` the method returns the typed result; on an `AsyncLatentClient` it returns an awaitable
of it. The builder functions take no `self`: they only describe the request, the client's transport runs it.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Awaitable, Callable, Mapping
from typing import TYPE_CHECKING, Any, Generic, ParamSpec, TypeVar, overload
from urllib.parse import quote

import httpx
from pydantic import BaseModel

from latent_client._transport import Call

if TYPE_CHECKING:
    from latent_client.aio import AsyncLatentClient
    from latent_client.sync import LatentClient

P = ParamSpec("P")
T = TypeVar("T")
M = TypeVar("M", bound=BaseModel)


class endpoint(Generic[P, T]):  # noqa: N801  (used as a decorator, like `property`)
    """Descriptor binding a `Call` builder to a client: sync clients return `T`, async ones `Awaitable[T]`."""

    def __init__(self, operation: str, build: Callable[P, Call[T]]):
        self.operation = operation  # the OpenAPI operation id this method covers, e.g. "search-search"
        self.build = build
        functools.update_wrapper(self, build)  # type: ignore[arg-type]

    @overload
    def __get__(self, obj: None, owner: type) -> endpoint[P, T]: ...
    @overload
    def __get__(self, obj: LatentClient, owner: type) -> Callable[P, T]: ...
    @overload
    def __get__(self, obj: AsyncLatentClient, owner: type) -> Callable[P, Awaitable[T]]: ...

    def __get__(self, obj: Any, owner: type) -> Any:
        if obj is None:
            return self
        build, run = self.build, obj._transport.send

        @functools.wraps(build)
        def method(*args: P.args, **kwargs: P.kwargs) -> Any:
            return run(build(*args, **kwargs))

        return method


def operation(name: str) -> Callable[[Callable[P, Call[T]]], endpoint[P, T]]:
    """`@operation("search-search")` above a builder makes it an endpoint of both clients."""
    return lambda build: endpoint(name, build)


# ----- building requests -----------------------------------------------------------------------------------
def seg(value: str | int) -> str:
    """One URL path segment (ids may hold '/', '?', '#', spaces)."""
    return quote(str(value), safe="")


def under(collection: str, tail: str = "") -> str:
    """The path of a collection, or of something under it: `under("papers", "/search")`."""
    return f"/v1/collections/{seg(collection)}{tail}"


def body(**fields: Any) -> dict[str, Any]:
    """A JSON body without the fields left as None, so the server's defaults apply."""
    return {k: _plain(v) for k, v in fields.items() if v is not None}


def query(**fields: Any) -> dict[str, Any]:
    """Query parameters without the Nones; a filter goes as JSON text, booleans as true/false."""
    params: dict[str, Any] = {}
    for name, value in fields.items():
        if value is None:
            continue
        if name == "filter":
            params[name] = json.dumps(_plain(value))
        elif isinstance(value, bool):
            params[name] = "true" if value else "false"
        else:
            params[name] = value
    return params


def _plain(value: Any) -> Any:
    """JSON-ready: models dumped without their Nones (unset choices), times as ISO text, sequences as lists."""
    if isinstance(value, BaseModel):
        return value.model_dump(mode="json", exclude_none=True)
    if isinstance(value, Mapping):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    if hasattr(value, "isoformat"):
        return value.isoformat()
    if hasattr(value, "tolist"):  # a NumPy array or scalar, without importing NumPy
        return value.tolist()
    return value


# ----- reading answers -------------------------------------------------------------------------------------
def typed(kind: type[M]) -> Callable[[httpx.Response], M]:
    return lambda response: kind.model_validate(response.json())


def as_json(response: httpx.Response) -> dict[str, Any]:
    return response.json()


def as_text(response: httpx.Response) -> str:
    return response.text


def nothing(response: httpx.Response) -> None:
    return None
