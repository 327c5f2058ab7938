"""One OpenVINO infer request per concurrent caller, so one loaded encoder can serve many threads.

optimum-intel's OVModel runs every forward pass through `self._inference(inputs)`, which calls
`self.request(inputs)`; `self.request` is an `openvino.CompiledModel`, and `CompiledModel.__call__`
lazily creates a single InferRequest and reuses it for every call. An infer request is not reentrant:
two threads in it at once fail with `RuntimeError: Infer Request is busy` (or, worse, one reads the
other's outputs). The server encodes on a thread pool with one shared encoder, so `openvino` and
`openvino-int8` answered most concurrent requests with a 500 (issue 18).

`install_request_pool` replaces that one method on the loaded model instance (nothing in optimum is
patched globally): each call borrows an idle request from a pool made from the compiled model, or
creates one when all are busy, and gives it back when done. The pool therefore grows to the peak
number of concurrent callers (the server's thread pool bounds it) and a request never serves two
calls at once. A compiled model is thread-safe; only its requests are not.
"""

from __future__ import annotations

import logging
import queue
import threading
from typing import Any

log = logging.getLogger(__name__)


class InferRequestPool:
    """Idle infer requests of one compiled model; `infer` runs on one of them, never on a busy one."""

    def __init__(self, compiled_model: Any):
        self.compiled_model = compiled_model
        self._idle: queue.SimpleQueue[Any] = queue.SimpleQueue()
        self._count_lock = threading.Lock()
        self.created = 0  # requests made so far: the peak concurrency seen

    def _borrow(self) -> Any:
        try:
            return self._idle.get_nowait()
        except queue.Empty:
            request = self.compiled_model.create_infer_request()
            with self._count_lock:
                self.created += 1
            return request

    def infer(self, inputs: dict) -> Any:
        """Outputs of one synchronous inference, copied out of the request (as `CompiledModel.__call__` does)."""
        request = self._borrow()
        try:
            # share_outputs=False copies the outputs, so they stay valid once the request serves another call
            return request.infer(inputs, share_inputs=True, share_outputs=False)
        finally:
            self._idle.put(request)


class PooledInference:
    """Stands in for an OVModel's `_inference`: the same inputs and outputs, one pooled request per call."""

    def __init__(self, ov_model: Any):
        self._model = ov_model
        self._swap_lock = threading.Lock()
        self.pool = InferRequestPool(self._compiled())

    def _compiled(self) -> Any:
        compiled = self._model.request
        if compiled is None:  # optimum clears it on .to()/reshape(); forward() recompiles, so do the same
            self._model.compile()
            compiled = self._model.request
        return compiled

    def __call__(self, inputs: dict) -> Any:
        compiled = self._compiled()
        pool = self.pool
        if pool.compiled_model is not compiled:  # recompiled since: requests of the old model must go
            with self._swap_lock:
                if self.pool.compiled_model is not compiled:
                    self.pool = InferRequestPool(compiled)
                pool = self.pool
        try:
            return pool.infer(inputs)
        except Exception as exc:
            # keep optimum's hint about wrong input names or missing inputs
            explain = getattr(self._model, "_incompatible_inputs_warning", None)
            hint = explain(inputs) if callable(explain) else None
            if hint is not None:
                exc.args += (hint,)
            raise


def install_request_pool(ov_model: Any) -> PooledInference | None:
    """Make an optimum-intel OVModel safe to call from many threads at once (see the module docstring).

    Returns the installed PooledInference, or None when the model does not have the optimum-intel internals
    this relies on (`request`, `compile`, `_inference`, a compiled model with `create_infer_request`);
    the caller must then serialise its calls.
    """
    if isinstance(getattr(ov_model, "_inference", None), PooledInference):
        return ov_model._inference
    if not (
        hasattr(ov_model, "request")
        and callable(getattr(ov_model, "compile", None))
        and callable(getattr(ov_model, "_inference", None))
    ):
        return None
    ov_model.compile()  # now, not lazily on the first calls (which may race)
    if not callable(getattr(ov_model.request, "create_infer_request", None)):
        return None
    pooled = PooledInference(ov_model)
    ov_model._inference = pooled  # an instance attribute: shadows the class's method for this model only
    return pooled
