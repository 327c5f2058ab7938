"""What the store wraps each loaded encoder in: one cache for all, one batcher per model, none where a
batch would change a query's vector."""

from __future__ import annotations

from latent.config import get_settings
from latent.embedder.batcher import CoalescingEncoder
from latent.embedder.fake import FakeEncoder
from latent.embedder.query_cache import CachedEncoder
from latent.embedder.serving import TORCH_BATCH, ServingEncoders, unwrap


class Backend(FakeEncoder):
    def __init__(self, backend: str) -> None:
        super().__init__(dimension=8)
        self.backend = backend


def layers(encoder: object) -> list[type]:
    out = []
    while isinstance(encoder, CachedEncoder | CoalescingEncoder):
        out.append(type(encoder))
        encoder = encoder.inner
    return out


def test_one_wrapper_per_encoder_and_one_cache(tmp_path) -> None:
    serving = ServingEncoders(get_settings(home=tmp_path, model="fake"))
    a, b = Backend("openvino-int8"), Backend("openvino")
    assert serving.wrap(a) is serving.wrap(a)
    assert layers(serving.wrap(a)) == [CachedEncoder, CoalescingEncoder]
    assert serving.wrap(a).cache is serving.wrap(b).cache
    assert unwrap(serving.wrap(a)) is a


def test_torch_coalesces_at_most_its_one_pass_batch_and_dynamic_int8_never(tmp_path) -> None:
    serving = ServingEncoders(get_settings(home=tmp_path, model="fake", query_batch_max=32))
    assert serving.wrap(Backend("torch")).inner.max_batch == TORCH_BATCH
    assert serving.wrap(Backend("openvino-int8")).inner.max_batch == 32
    assert layers(serving.wrap(Backend("onnx-int8"))) == [CachedEncoder]


def test_settings_turn_each_layer_off(tmp_path) -> None:
    off = ServingEncoders(get_settings(home=tmp_path, model="fake", query_batch_wait_ms=0, query_cache_size=0))
    encoder = Backend("torch")
    assert off.wrap(encoder) is encoder
    assert off.stats()["cache"] is None and off.stats()["batching"]["calls"] == 0
