"""Adaptive micro-batching: concurrent requests merged into one predict call.

A predict call of a scikit-learn pipeline costs a fixed overhead (column transformers, encoders: ~10 ms)
plus a little per row (~20 µs), so throughput comes from merging requests. The batcher never waits while
the predictor is idle: a lone request is predicted at once (no added latency at one connection); the
requests that arrive while a batch runs form the next one, so batches grow with the load by themselves.
Batches run on one worker thread, so requests are parsed while a batch runs. A lone request (nothing else
queued) whose call the fit expects within a tenth of the latency budget is predicted on the event loop
itself: that saves two thread hand-offs (each a scheduler wake-up, milliseconds on a busy machine) when
there is nothing to overlap with, and a request arriving meanwhile waits unseen for at most that call.

:class:`CostModel` fits ``batch seconds = per_row · rows + fixed`` online (least squares, older batches
forgotten exponentially) from every batch it times. The batcher uses it twice: a batch takes the oldest
requests only while the estimate says all of them still meet their deadline (and ``max_batch_size``
holds), and a request that the queued work says would miss its deadline is refused at once with
:class:`Overloaded` (503 with ``Retry-After``) instead of timing out silently.
"""

from __future__ import annotations

import asyncio
import contextlib
import math
import time
from collections import deque
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

from mlops_actions.errors import Overloaded, PredictFailed

GATHER_STEP_S = 0.0005  # how often the queue is looked at while requests still arrive
INLINE_SHARE = 0.1  # a lone call expected within this share of the latency budget runs on the event loop
Predict = Callable[[dict[str, list[Any]]], tuple[list[Any], list[list[float]] | None]]


class CostModel:
    """``seconds = per_row · rows + fixed``, fitted online by least squares with exponential forgetting."""

    def __init__(self, *, decay: float = 0.97, per_row: float = 0.0, fixed: float = 0.0):
        self.decay = decay
        self.per_row = per_row
        self.fixed = fixed
        self._w = self._n = self._nn = self._t = self._nt = 0.0
        self.batches = 0

    def observe(self, rows: int, seconds: float) -> None:
        """Add one timed batch and refit."""
        d = self.decay
        self._w = d * self._w + 1.0
        self._n = d * self._n + rows
        self._nn = d * self._nn + rows * rows
        self._t = d * self._t + seconds
        self._nt = d * self._nt + rows * seconds
        self.batches += 1
        mean_n, mean_t = self._n / self._w, self._t / self._w
        spread = self._nn / self._w - mean_n * mean_n
        if spread > 1e-9 * max(1.0, mean_n * mean_n) and spread > 0.25:  # sizes vary: fit the slope
            slope = (self._nt / self._w - mean_n * mean_t) / spread
            self.per_row = max(0.0, slope)
        self.fixed = max(0.0, mean_t - self.per_row * mean_n)

    def estimate(self, rows: int) -> float:
        """Expected seconds of one batch of ``rows`` rows."""
        return self.fixed + self.per_row * rows if rows > 0 else 0.0

    def backlog(self, rows: int, max_batch_size: int) -> float:
        """Expected seconds to predict ``rows`` queued rows in batches of at most ``max_batch_size``."""
        if rows <= 0:
            return 0.0
        return math.ceil(rows / max_batch_size) * self.fixed + self.per_row * rows


@dataclass
class _Pending:
    columns: dict[str, list[Any]]
    rows: int
    deadline: float
    future: asyncio.Future[tuple[list[Any], list[list[float]] | None]]


class Batcher:
    """Merges concurrent :meth:`submit` calls into calls of ``predict`` on one worker thread."""

    def __init__(
        self,
        predict: Predict,
        *,
        max_batch_size: int,
        max_latency_s: float,
        cost: CostModel | None = None,
        clock: Callable[[], float] = time.perf_counter,
        on_batch: Callable[[int, float], None] | None = None,
    ):
        self.predict = predict
        self.max_batch_size = max_batch_size
        self.max_latency_s = max_latency_s
        self.cost = cost or CostModel()
        self.clock = clock
        self.on_batch = on_batch
        self._queue: deque[_Pending] = deque()
        self._queued_rows = 0
        self._busy_until = 0.0
        self._wakeup: asyncio.Event | None = None
        self._task: asyncio.Task[None] | None = None
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="mlops-predict")
        self._last_requests = 0
        self.refused = 0  # requests answered with Overloaded
        self.failed = 0  # batches whose predict call raised

    @property
    def queued_rows(self) -> int:
        return self._queued_rows

    def warm_up(self, sample: dict[str, list[Any]], rounds: int = 3) -> None:
        """Time ``predict`` on one row and on a full batch built from ``sample`` (blocking), to seed the cost
        model before the first request and to pay first-call costs up front."""
        count = len(next(iter(sample.values()))) if sample else 0
        if count == 0:
            return
        for size in (1, self.max_batch_size):
            block = {name: (values * (size // count + 1))[:size] for name, values in sample.items()}
            for _ in range(rounds):
                started = self.clock()
                self.predict(block)
                self.cost.observe(size, self.clock() - started)

    def start(self) -> None:
        """Start the dispatch task on the running event loop."""
        if self._task is None:
            self._wakeup = asyncio.Event()
            self._task = asyncio.get_running_loop().create_task(self._run(), name="mlops-batcher")

    async def stop(self) -> None:
        """Stop dispatching; pending requests are refused; the worker thread ends."""
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        while self._queue:
            item = self._queue.popleft()
            if not item.future.done():
                item.future.set_exception(Overloaded(1, 0, self.max_latency_s))
        self._queued_rows = 0
        self._executor.shutdown(wait=True)

    def admission_wait(self, rows: int) -> float:
        """Expected seconds until a request of ``rows`` rows submitted now is answered."""
        now = self.clock()
        busy = max(0.0, self._busy_until - now)
        return busy + self.cost.backlog(self._queued_rows + rows, self.max_batch_size)

    def refuse_if_late(self, rows: int, *, arrived: float | None = None) -> float:
        """The deadline of a request of ``rows`` rows that arrived at ``arrived`` (default: now); raises
        :class:`Overloaded` (and counts it) when the queued work says it would miss it. Cheap, so a server
        under overload can refuse before it spends time parsing and checking a body."""
        now = self.clock()
        deadline = (arrived if arrived is not None else now) + self.max_latency_s
        expected = self.admission_wait(rows)
        if now + expected > deadline:
            self.refused += 1
            raise Overloaded(expected - self.max_latency_s, expected, self.max_latency_s)
        return deadline

    async def submit(
        self, columns: dict[str, list[Any]], rows: int, *, arrived: float | None = None
    ) -> tuple[list[Any], list[list[float]] | None]:
        """Predictions for ``rows`` rows; :class:`Overloaded` when they cannot be answered within
        ``max_latency_s`` of ``arrived`` (default: now)."""
        self.start()
        deadline = self.refuse_if_late(rows, arrived=arrived)
        future: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        self._queue.append(_Pending(columns, rows, deadline, future))
        self._queued_rows += rows
        assert self._wakeup is not None
        self._wakeup.set()
        return await future

    async def _gather(self) -> None:
        """Under concurrency (the last batch merged several requests), wait briefly while requests still
        arrive, until the queue holds as many as the last batch did: at most half the fitted fixed cost,
        never past the oldest request's slack. A lone client (last batch of one) never waits."""
        if self._last_requests <= 1 or len(self._queue) >= self._last_requests:
            return
        started = self.clock()
        oldest = self._queue[0]
        slack = oldest.deadline - started - self.cost.estimate(self._queued_rows + oldest.rows)
        limit = started + min(self.cost.fixed / 2, max(0.0, slack))
        while len(self._queue) < self._last_requests and self._queued_rows < self.max_batch_size:
            before = len(self._queue)
            await asyncio.sleep(GATHER_STEP_S)
            if len(self._queue) == before or self.clock() >= limit:
                return

    def _take(self) -> list[_Pending]:
        """The oldest requests that fit one batch and still meet their deadlines; ones that cannot are refused."""
        now = self.clock()
        chosen: list[_Pending] = []
        rows = 0
        earliest = math.inf
        while self._queue:
            item = self._queue[0]
            if item.future.done():  # the client went away
                self._queue.popleft()
                self._queued_rows -= item.rows
                continue
            if chosen and rows + item.rows > self.max_batch_size:
                break
            finish = now + self.cost.estimate(rows + item.rows)
            if finish > min(earliest, item.deadline):
                if chosen:
                    break  # the batch is as large as the deadlines allow
                self._queue.popleft()
                self._queued_rows -= item.rows
                self.refused += 1
                expected = finish - now
                item.future.set_exception(Overloaded(expected, expected, self.max_latency_s))
                continue
            self._queue.popleft()
            self._queued_rows -= item.rows
            chosen.append(item)
            rows += item.rows
            earliest = min(earliest, item.deadline)
        return chosen

    async def _run(self) -> None:
        loop = asyncio.get_running_loop()
        assert self._wakeup is not None
        while True:
            if not self._queue:
                self._wakeup.clear()
                await self._wakeup.wait()
            await self._gather()
            batch = self._take()
            if not batch:
                continue
            self._last_requests = len(batch)
            rows = sum(item.rows for item in batch)
            started = self.clock()
            self._busy_until = started + self.cost.estimate(rows)
            try:
                if self._inline(batch, rows):
                    predictions, probabilities = self._predict_merged(batch)
                else:
                    predictions, probabilities = await loop.run_in_executor(
                        self._executor, self._predict_merged, batch
                    )
            except Exception as error:
                self.failed += 1
                for item in batch:
                    if not item.future.done():
                        item.future.set_exception(PredictFailed(f"{type(error).__name__}: {error}"))
                continue
            finally:
                self._busy_until = 0.0
            seconds = self.clock() - started
            self.cost.observe(rows, seconds)
            if self.on_batch is not None:
                self.on_batch(rows, seconds)
            offset = 0
            for item in batch:
                end = offset + item.rows
                if not item.future.done():
                    item.future.set_result(
                        (
                            predictions[offset:end],
                            None if probabilities is None else probabilities[offset:end],
                        )
                    )
                offset = end
            await asyncio.sleep(0)

    def _inline(self, batch: list[_Pending], rows: int) -> bool:
        """Predict on the event loop: a lone request (nothing else queued) whose call the fit expects to be
        short, so that a request arriving meanwhile waits at most a small share of its budget unseen."""
        return (
            len(batch) == 1
            and not self._queue
            and self.cost.batches > 0
            and self.cost.estimate(rows) <= INLINE_SHARE * self.max_latency_s
        )

    def _predict_merged(self, batch: list[_Pending]) -> tuple[list[Any], list[list[float]] | None]:
        if len(batch) == 1:
            return self.predict(batch[0].columns)
        names = list(dict.fromkeys(name for item in batch for name in item.columns))
        merged: dict[str, list[Any]] = {name: [] for name in names}
        for item in batch:
            for name in names:
                values = item.columns.get(name)
                merged[name].extend(values if values is not None else [None] * item.rows)
        return self.predict(merged)
