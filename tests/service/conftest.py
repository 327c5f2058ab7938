"""Service fixtures: an app on a temporary home with the fake encoder, a TestClient and the typed client."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from latent_client import LatentClient

from latent.config import Settings, get_settings
from service.main import create_app

TOPICS = ("biology", "physics", "chemistry", "medicine")
WORDS = {
    "biology": "cell protein gene enzyme membrane",
    "physics": "quantum particle energy field wave",
    "chemistry": "molecule reaction bond catalyst acid",
    "medicine": "patient trial dose therapy clinical",
}


def corpus(n: int = 24) -> list[dict[str, Any]]:
    """Small documents whose words tell their topic, with metadata filters can select on."""
    docs = []
    for i in range(n):
        topic = TOPICS[i % len(TOPICS)]
        docs.append(
            {
                "id": f"doc-{i}",
                "title": f"{topic} paper {i}",
                "text": f"A study of {WORDS[topic]} number {i}.",
                "metadata": {
                    "topic": topic,
                    "year": 2000 + i,
                    "tags": [topic, "even" if i % 2 == 0 else "odd"],
                },
            }
        )
    return docs


@pytest.fixture
def make_corpus() -> Callable[..., list[dict[str, Any]]]:
    return corpus


@pytest.fixture
def make_settings(tmp_path: Path) -> Callable[..., Settings]:
    def make(**overrides: Any) -> Settings:
        return get_settings(home=tmp_path / "home", model="fake", **overrides)

    return make


@pytest.fixture
def settings(make_settings: Callable[..., Settings]) -> Settings:
    return make_settings()


@pytest.fixture
def app(settings: Settings) -> FastAPI:
    return create_app(settings)


@pytest.fixture
def client(app: FastAPI) -> Iterator[TestClient]:
    with TestClient(app) as test_client:
        yield test_client


@pytest.fixture
def api(client: TestClient) -> LatentClient:
    return LatentClient(http=client)


@pytest.fixture
def papers(api: LatentClient) -> str:
    """A collection 'papers' holding `corpus()`."""
    api.create_collection("papers")
    api.upsert("papers", corpus())
    return "papers"


def assert_error(response: Any, status: int, code: str) -> dict[str, Any]:
    """The response is the one error envelope, with this status and code; returns the error object."""
    __tracebackhide__ = True
    assert response.status_code == status, response.text
    body = response.json()
    assert set(body) == {"error"}
    error = body["error"]
    assert set(error) == {"code", "message", "details"}
    assert error["code"] == code
    assert isinstance(error["message"], str) and error["message"]
    assert isinstance(error["details"], dict)
    return error


@pytest.fixture
def expect_error() -> Callable[[Any, int, str], dict[str, Any]]:
    """`assert_error` as a fixture, so test modules need not import conftest."""
    return assert_error
