"""Error answers become `LatentHTTPError` with the envelope's status, code, message and details."""

from __future__ import annotations

import httpx
import pydantic
import pytest
from latent_client import LatentClient, LatentHTTPError, LatentJobError, models


def raised(call: object) -> LatentHTTPError:
    """The typed error a zero-argument call raises."""
    with pytest.raises(LatentHTTPError) as info:
        call()  # type: ignore[operator]
    return info.value


def test_not_found_and_conflict_carry_code_and_details(api: LatentClient, topics: str) -> None:
    missing = raised(lambda: api.get_collection("ghost"))
    assert (missing.status, missing.code, missing.details) == (404, "collection_not_found", {"collection": "ghost"})
    assert "ghost" in missing.message and str(missing).startswith("404 collection_not_found")
    exists = raised(lambda: api.create_collection(topics))
    assert (exists.status, exists.code) == (409, "collection_exists")
    gone = raised(lambda: api.delete_document(topics, "nope"))
    assert (gone.status, gone.code) == (404, "document_not_found")


def test_bad_input_is_a_4xx_with_the_field_named(api: LatentClient, topics: str) -> None:
    zero_k = raised(lambda: api.search(topics, "x", k=0))
    assert 400 <= zero_k.status < 500 and zero_k.code and zero_k.message
    neither = raised(lambda: api.search_batch(topics))  # no queries and no vectors
    assert 400 <= neither.status < 500 and neither.code
    bad_filter = raised(lambda: api.search(topics, "x", filter={"topic": {"$nope": 1}}))
    assert bad_filter.status == 400 and bad_filter.details


def test_openai_route_errors_are_typed_too(api: LatentClient) -> None:
    error = raised(lambda: api.openai_embeddings("hello", "no-such-model"))
    assert (error.status, error.code) == (404, "model_not_found")
    assert error.details == {"type": "invalid_request_error", "param": "model"}


def test_an_error_without_the_envelope_keeps_the_text() -> None:
    transport = httpx.MockTransport(lambda request: httpx.Response(502, text="<html>bad gateway</html>"))
    api = LatentClient(http=httpx.Client(transport=transport, base_url="http://latent.test"))
    error = raised(api.list_collections)
    assert (error.status, error.code, error.message) == (502, "http_error", "<html>bad gateway</html>")


def test_inputs_are_checked_before_sending(api: LatentClient) -> None:
    """A typo in a document field is refused by the client's own model, as the server would refuse it."""
    with pytest.raises(pydantic.ValidationError):
        api.upsert("papers", [{"id": "a", "txet": "typo"}])
    with pytest.raises(pydantic.ValidationError):
        models.Example(text="a", weight=0)


def test_a_cancelled_job_raises_job_error_when_waited_for(api: LatentClient, topics: str) -> None:
    job = api.train_vae(topics, epochs=500, latent_dim=2, hidden_dim=16)
    api.cancel_job(job.id)
    with pytest.raises(LatentJobError) as info:
        api.wait_job(job, timeout=60, poll=0.05)
    assert info.value.job.status == "cancelled" and info.value.job.id == job.id
    assert api.wait_job(job.id, check=False).status == "cancelled"
