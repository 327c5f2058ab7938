"""`POST /v1/embeddings` driven by the official `openai` client against a real server: `/v1/embed`'s vectors.

Errors on this route come in OpenAI's shape (so the client raises its own exception classes); the rest of
the API keeps Latent's envelope.
"""

from __future__ import annotations

import base64
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import numpy as np
import openai
import pytest
from fastapi import FastAPI
from helpers.server import serving
from openai import OpenAI

from latent.config import Settings

TEXTS = ["a protein folding study", "quantum field energy", "the dose of a clinical trial"]
MAX_TEXTS = 4


@dataclass
class Server:
    url: str
    app: FastAPI
    headers: dict[str, str] | None = None  # for Latent's own routes, once a key is needed

    def client(self, api_key: str = "unused") -> OpenAI:
        return OpenAI(base_url=f"{self.url}/v1", api_key=api_key, max_retries=0, timeout=30)

    def embed(self, texts: list[str], **body: Any) -> np.ndarray:
        """The same texts through Latent's own `/v1/embed`."""
        response = httpx.post(f"{self.url}/v1/embed", json={"texts": texts, **body}, headers=self.headers, timeout=30)
        assert response.status_code == 200, response.text
        return np.asarray(response.json()["vectors"], dtype=np.float32)


@pytest.fixture
def server(make_settings: Callable[..., Settings]) -> Iterator[Server]:
    from service.main import create_app

    app = create_app(make_settings(max_batch_texts=MAX_TEXTS))
    with serving(app) as url:
        yield Server(url, app)


def vectors(response: Any) -> np.ndarray:
    assert [d.index for d in response.data] == list(range(len(response.data)))
    assert all(d.object == "embedding" for d in response.data)
    return np.asarray([d.embedding for d in response.data], dtype=np.float32)


def test_single_input_equals_embed(server: Server) -> None:
    raw = server.client().embeddings.with_raw_response.create(model="fake", input=TEXTS[0])
    # Without encoding_format the client asks for base64 and decodes it itself.
    assert isinstance(raw.http_response.json()["data"][0]["embedding"], str)
    response = raw.parse()
    assert response.object == "list" and response.model == "fake"
    got = vectors(response)
    assert got.shape == (1, 64)
    np.testing.assert_allclose(got, server.embed(TEXTS[:1]), atol=1e-6)


def test_batch_input_as_floats_equals_embed(server: Server) -> None:
    response = server.client().embeddings.create(model="fake", input=TEXTS, encoding_format="float")
    assert all(isinstance(d.embedding, list) for d in response.data)
    np.testing.assert_allclose(vectors(response), server.embed(TEXTS), atol=1e-6)


def test_base64_is_little_endian_float32(server: Server) -> None:
    response = server.client().embeddings.create(model="fake", input=TEXTS, encoding_format="base64")
    raw = [d.embedding for d in response.data]
    assert all(isinstance(r, str) for r in raw)  # asked for explicitly: the client leaves it as sent
    decoded = np.stack([np.frombuffer(base64.b64decode(r), dtype="<f4") for r in raw])
    np.testing.assert_allclose(decoded, server.embed(TEXTS), atol=1e-6)


def test_usage_counts_the_tokenizers_tokens(server: Server) -> None:
    response = server.client().embeddings.create(model="fake", input=TEXTS)
    tokenized = httpx.post(f"{server.url}/v1/tokenize", json={"texts": TEXTS}).json()["results"]
    assert response.usage.prompt_tokens == sum(r["count"] for r in tokenized) > 0
    assert response.usage.total_tokens == response.usage.prompt_tokens


def test_model_of_a_collection_and_matching_dimensions(server: Server) -> None:
    created = httpx.post(f"{server.url}/v1/collections", json={"name": "small", "model": "fake:32"})
    assert created.status_code == 201, created.text
    response = server.client().embeddings.create(model="fake:32", input=TEXTS[:2], dimensions=32)
    assert response.model == "fake:32"
    np.testing.assert_allclose(vectors(response), server.embed(TEXTS[:2], collection="small"), atol=1e-6)
    assert len(server.client().embeddings.create(model="fake", input="x", dimensions=64).data[0].embedding) == 64


def test_unknown_model_is_not_found(server: Server) -> None:
    with pytest.raises(openai.NotFoundError) as info:
        server.client().embeddings.create(model="text-embedding-3-small", input="hello")
    assert info.value.code == "model_not_found" and info.value.param == "model"
    assert "fake" in info.value.message  # names the models that are loaded


@pytest.mark.parametrize(
    ("kwargs", "code", "param"),
    [
        ({"input": []}, "empty_batch", None),
        ({"input": ["t"] * (MAX_TEXTS + 1)}, "batch_too_large", None),  # a 413 elsewhere; OpenAI says 400
        ({"input": "t", "dimensions": 16}, "dimensions_unsupported", "dimensions"),
        ({"input": "t", "dimensions": 5000}, "validation_error", "dimensions"),  # a 422 elsewhere
        ({"input": [[101, 2023]]}, "token_input_unsupported", "input"),
        ({"input": [101, 2023]}, "token_input_unsupported", "input"),
        ({"input": "t", "extra_body": {"temperature": 1}}, "validation_error", "temperature"),
    ],
)
def test_bad_input_is_bad_request(server: Server, kwargs: dict[str, Any], code: str, param: str | None) -> None:
    with pytest.raises(openai.BadRequestError) as info:
        server.client().embeddings.create(model="fake", **kwargs)
    assert info.value.status_code == 400
    assert (info.value.code, info.value.param, info.value.type) == (code, param, "invalid_request_error")


def test_error_shapes_are_openais_here_and_latents_elsewhere(server: Server) -> None:
    with httpx.Client(base_url=server.url) as http:
        for body in ({"model": "fake"}, {"input": ["a", 1], "model": "fake"}):
            response = http.post("/v1/embeddings", json=body)
            assert response.status_code == 400
            assert set(response.json()["error"]) == {"message", "type", "param", "code"}
        invalid = http.post("/v1/embeddings", content=b"{", headers={"content-type": "application/json"})
        assert invalid.status_code == 400 and invalid.json()["error"]["code"] == "invalid_json"
        elsewhere = http.post("/v1/embed", json={"collection": "x"})
        assert elsewhere.status_code == 422
        assert set(elsewhere.json()["error"]) == {"code", "message", "details"}
        spec = http.get("/openapi.json").json()["paths"]["/v1/embeddings"]["post"]
        assert spec["operationId"] == "openai-embeddings" and "422" not in spec["responses"]
        assert spec["responses"]["404"]["content"]["application/json"]["schema"]["$ref"].endswith(
            "/OpenAIErrorResponse"
        )


def test_api_key(server: Server) -> None:
    key = server.app.state.keys.create("read", "openai test").key
    server.headers = {"Authorization": f"Bearer {key}"}
    response = server.client(api_key=key).embeddings.create(model="fake", input=TEXTS[0])
    np.testing.assert_allclose(vectors(response), server.embed(TEXTS[:1]), atol=1e-6)
    for wrong in ("lk_000000000000_wrong", "unused"):
        with pytest.raises(openai.AuthenticationError) as info:
            server.client(api_key=wrong).embeddings.create(model="fake", input="hello")
        assert info.value.code == "invalid_api_key"
    elsewhere = httpx.get(f"{server.url}/v1/collections", headers={"Authorization": "Bearer unused"})
    assert elsewhere.status_code == 401 and set(elsewhere.json()["error"]) == {"code", "message", "details"}
