"""Adaptive micro-batching: concurrent requests for one version share one model call.

A request waits at most ``max_wait_ms`` for others; the batch runs as soon as ``max_size`` rows are
waiting. Under light load a request runs alone after the wait; under heavy load batches fill and the
per-call overhead is paid once per batch. Only matrices (the all-numeric fast path) are batched.

>>> import asyncio
>>> class Double:
...     def predict(self, X):
...         from weir.serving.runtimes import Prediction
...         return Prediction(X[:, 0] * 2)
>>> batcher = MicroBatcher(Double(), max_size=8, max_wait_ms=5)
>>> async def three():
...     return await asyncio.gather(*(batcher.predict(np.array([[float(i)]])) for i in range(3)))
>>> [p.predictions.tolist() for p in asyncio.run(three())], batcher.batches_
([[0.0], [2.0], [4.0]], 1)
"""

from __future__ import annotations

import asyncio
from typing import Any, Protocol

import numpy as np

from weir.serving.runtimes import Prediction


class _Runtime(Protocol):
    def predict(self, X: Any) -> Prediction: ...


class MicroBatcher:
    def __init__(self, runtime: _Runtime, *, max_size: int, max_wait_ms: float) -> None:
        self.runtime = runtime
        self.max_size = max_size
        self.max_wait = max_wait_ms / 1000
        self.batches_ = 0
        self._waiting: list[tuple[np.ndarray[Any, Any], asyncio.Future[Prediction]]] = []
        self._rows = 0
        self._timer: asyncio.TimerHandle | None = None

    async def predict(self, X: np.ndarray[Any, Any]) -> Prediction:
        loop = asyncio.get_running_loop()
        future: asyncio.Future[Prediction] = loop.create_future()
        self._waiting.append((X, future))
        self._rows += len(X)
        if self._rows >= self.max_size:
            self._run()
        elif self._timer is None:
            self._timer = loop.call_later(self.max_wait, self._run)
        return await future

    def _run(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        waiting, self._waiting, self._rows = self._waiting, [], 0
        if not waiting:
            return
        self.batches_ += 1
        try:
            X = waiting[0][0] if len(waiting) == 1 else np.concatenate([x for x, _ in waiting])
            whole = self.runtime.predict(X)
        except Exception:
            if len(waiting) > 1:  # one bad request must not fail the others: run each alone
                for x, future in waiting:
                    self._alone(x, future)
                return
            self._alone(*waiting[0])
            return
        start = 0
        for x, future in waiting:
            stop = start + len(x)
            probabilities = None if whole.probabilities is None else whole.probabilities[start:stop]
            if not future.done():
                future.set_result(Prediction(whole.predictions[start:stop], probabilities, whole.classes))
            start = stop

    def _alone(self, X: np.ndarray[Any, Any], future: asyncio.Future[Prediction]) -> None:
        try:
            result = self.runtime.predict(X)
        except Exception as exc:
            if not future.done():
                future.set_exception(exc)
            return
        if not future.done():
            future.set_result(result)
