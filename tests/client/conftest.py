"""Client fixtures: the real app on a temp home (fake encoder) behind a TestClient, or a real server."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from helpers.server import serving
from helpers.topics import topic_docs
from latent_client import LatentClient

from latent.config import Settings
from service.main import create_app


@pytest.fixture
def app(settings: Settings) -> FastAPI:
    return create_app(settings)


@pytest.fixture
def http(app: FastAPI) -> Iterator[TestClient]:
    with TestClient(app) as test_client:
        yield test_client


@pytest.fixture
def api(http: TestClient) -> LatentClient:
    """The sync client over FastAPI's TestClient (an httpx.Client)."""
    return LatentClient(http=http)


@pytest.fixture
def topics(api: LatentClient) -> str:
    """A collection 'topics' of three disjoint-vocabulary topics (ids A0…C7, metadata topic and i)."""
    api.create_collection("topics")
    api.upsert("topics", topic_docs())
    return "topics"


@pytest.fixture
def base_url(app: FastAPI) -> Iterator[str]:
    """The app served by uvicorn over real sockets, for the async client."""
    with serving(app) as url:
        yield url
