"""The batcher: the cost model's fit, merging under concurrency, no wait at one client, 503 on deadlines."""

from __future__ import annotations

import asyncio
import threading
import time

import pytest

from mlops_actions.serving.batcher import Batcher, CostModel, Overloaded, PredictFailed


class SlowModel:
    """predict costs ``fixed + per_row * rows`` seconds; answers each row's value doubled."""

    def __init__(self, fixed: float = 0.01, per_row: float = 0.0):
        self.fixed, self.per_row = fixed, per_row
        self.calls: list[int] = []
        self.lock = threading.Lock()

    def __call__(self, columns):
        rows = len(columns["x"])
        with self.lock:
            self.calls.append(rows)
        time.sleep(self.fixed + self.per_row * rows)
        return [2 * v for v in columns["x"]], None


def test_the_cost_model_recovers_a_linear_batch_cost():
    cost = CostModel()
    for rows in [1, 8, 64, 128, 3, 200] * 5:
        cost.observe(rows, 0.010 + 0.00002 * rows)
    assert cost.fixed == pytest.approx(0.010, rel=1e-6)
    assert cost.per_row == pytest.approx(0.00002, rel=1e-6)
    assert cost.estimate(100) == pytest.approx(0.012)
    assert cost.backlog(300, 128) == pytest.approx(3 * 0.010 + 300 * 0.00002)


def test_the_cost_model_follows_a_change_of_cost_and_never_goes_negative():
    cost = CostModel()
    for rows in (1, 128):
        cost.observe(rows, 0.010 + 0.0001 * rows)
    for _ in range(200):
        cost.observe(1, 0.020)  # the machine got busier: one-row calls got slower
    assert cost.estimate(1) == pytest.approx(0.020, abs=0.0005)
    assert cost.per_row >= 0 and cost.fixed >= 0
    for _ in range(50):
        cost.observe(64, 0.001)  # a noisy, impossible timing cannot make the slope negative
    assert cost.per_row >= 0 and cost.fixed >= 0


async def _submit_many(batcher: Batcher, values: list[int]) -> list[list[int]]:
    results = await asyncio.gather(*(batcher.submit({"x": [v]}, 1) for v in values))
    return [predictions for predictions, _ in results]


def test_concurrent_requests_are_merged_into_one_call_and_each_gets_its_own_rows():
    model = SlowModel(fixed=0.02)

    async def scenario():
        batcher = Batcher(model, max_batch_size=64, max_latency_s=5.0)
        first = asyncio.ensure_future(batcher.submit({"x": [100]}, 1))
        await asyncio.sleep(0.005)  # the first call is running: the next ones queue behind it
        rest = await _submit_many(batcher, list(range(10)))
        await first
        await batcher.stop()
        return rest

    rest = asyncio.run(scenario())
    assert rest == [[2 * v] for v in range(10)]
    assert model.calls == [1, 10]


def test_a_batch_never_holds_more_rows_than_max_batch_size():
    model = SlowModel(fixed=0.01)

    async def scenario():
        batcher = Batcher(model, max_batch_size=4, max_latency_s=5.0)
        await _submit_many(batcher, list(range(10)))
        await batcher.stop()

    asyncio.run(scenario())
    assert max(model.calls) <= 4 and sum(model.calls) == 10


def test_one_client_at_a_time_gets_batches_of_one_with_no_added_wait():
    model = SlowModel(fixed=0.005)

    async def scenario():
        batcher = Batcher(model, max_batch_size=64, max_latency_s=5.0)
        waits = []
        for value in range(20):
            started = time.perf_counter()
            await batcher.submit({"x": [value]}, 1)
            waits.append(time.perf_counter() - started - model.fixed)
        await batcher.stop()
        return waits

    waits = asyncio.run(scenario())
    assert model.calls == [1] * 20
    assert sorted(waits)[10] < 0.002  # the median request waits for nothing but its own call


def test_a_request_that_would_miss_its_deadline_is_refused_with_retry_after():
    model = SlowModel(fixed=0.05)

    async def scenario():
        batcher = Batcher(model, max_batch_size=1, max_latency_s=0.12)
        batcher.cost.observe(1, 0.05)
        batcher.cost.observe(2, 0.05)
        outcomes = await asyncio.gather(
            *(batcher.submit({"x": [v]}, 1) for v in range(6)), return_exceptions=True
        )
        await batcher.stop()
        return outcomes, batcher.refused

    outcomes, refused = asyncio.run(scenario())
    answered = [o for o in outcomes if not isinstance(o, BaseException)]
    overloaded = [o for o in outcomes if isinstance(o, Overloaded)]
    assert len(answered) == 2 and len(overloaded) == 4 and refused == 4
    assert all(o.retry_after_s >= 1 for o in overloaded)
    assert "serve.max_latency_ms" in str(overloaded[0])


def test_a_failing_model_fails_its_batch_and_the_batcher_goes_on():
    calls = []

    def flaky(columns):
        calls.append(columns["x"])
        if columns["x"] == [1]:
            raise ValueError("boom")
        return columns["x"], None

    async def scenario():
        batcher = Batcher(flaky, max_batch_size=8, max_latency_s=5.0)
        with pytest.raises(PredictFailed, match="ValueError: boom"):
            await batcher.submit({"x": [1]}, 1)
        answer = await batcher.submit({"x": [2]}, 1)
        await batcher.stop()
        return answer, batcher.failed

    assert asyncio.run(scenario()) == (([2], None), 1)


def test_warm_up_seeds_the_cost_model_with_one_row_and_full_batches():
    model = SlowModel(fixed=0.002, per_row=0.0001)
    batcher = Batcher(model, max_batch_size=50, max_latency_s=1.0)
    batcher.warm_up({"x": [1, 2]}, rounds=2)
    assert model.calls == [1, 1, 50, 50]
    assert batcher.cost.per_row == pytest.approx(0.0001, rel=0.5)
    assert batcher.cost.fixed == pytest.approx(0.002, abs=0.002)


@pytest.mark.parametrize(("fixed", "on_the_loop"), [(0.002, True), (0.03, False)])
def test_a_lone_request_runs_on_the_event_loop_only_when_its_call_is_short(fixed, on_the_loop):
    threads: list[str] = []

    def predict(columns):
        threads.append(threading.current_thread().name)
        time.sleep(fixed)
        return list(columns["x"]), None

    async def scenario():
        batcher = Batcher(predict, max_batch_size=8, max_latency_s=0.2)
        batcher.warm_up({"x": [1]}, rounds=1)  # 2 ms is within a tenth of 200 ms, 30 ms is not
        threads.clear()
        await batcher.submit({"x": [1]}, 1)
        await batcher.stop()
        return threading.current_thread().name

    loop_thread = asyncio.run(scenario())
    assert (threads == [loop_thread]) is on_the_loop
