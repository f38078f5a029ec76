"""The ASGI app: ``POST /predict``, ``GET /health``, ``/ready``, ``/metadata`` and ``/metrics``."""

from __future__ import annotations

import json
import math
import re
import time
import uuid
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from mlops_actions.serving.batcher import Batcher, Overloaded, PredictFailed
from mlops_actions.serving.guards import LiveGuards
from mlops_actions.serving.inputs import InputChecker, InvalidInput, TooManyRows, parse_body
from mlops_actions.serving.metrics import ServerMetrics
from mlops_actions.serving.prediction_log import LoggedRequest, PredictionLog

if TYPE_CHECKING:
    from starlette.applications import Starlette
    from starlette.requests import Request
    from starlette.responses import Response

    from mlops_actions.serving.source import ServedModel

REQUEST_ID = re.compile(r"^[A-Za-z0-9._:-]{1,64}$")
MAX_BODY_BYTES = 32 * 1024 * 1024
WARM_UP_ROWS = 8


@dataclass
class ServingState:
    """Everything the routes share: the model, the batcher, the log, the metrics, the live guards, readiness."""

    served: ServedModel
    checker: InputChecker
    batcher: Batcher
    metrics: ServerMetrics
    log: PredictionLog | None = None
    guards: LiveGuards = field(default_factory=LiveGuards)
    warm_up_sample: dict[str, list[Any]] | None = None
    ready: bool = False
    stopping: bool = False
    problems: list[str] = field(default_factory=list)


async def _warm_up(state: ServingState) -> None:
    """Seed the cost model on sample rows (first-call costs paid now), then report ready."""
    import asyncio

    if state.warm_up_sample:
        await asyncio.get_running_loop().run_in_executor(None, warm_up_batcher, state)
    state.ready = True


def warm_up_batcher(state: ServingState) -> None:
    """Time the model on the warm-up sample (blocking); its rows are not counted by the live guards. A
    failure is kept in ``state.problems``: the cost model then learns from the first batches instead."""
    if not state.warm_up_sample:
        return
    try:
        state.batcher.warm_up(state.warm_up_sample)
    except Exception as error:
        state.problems.append(f"warm-up failed: {type(error).__name__}: {error}")
    finally:
        state.guards.reset()


def warm_up_sample(served: ServedModel, rows: int = WARM_UP_ROWS) -> dict[str, list[Any]] | None:
    """Rows that satisfy the schema (mid-range numbers, the first category) to time the model on; None
    without a schema that types every feature."""
    if served.schema is None:
        return None
    sample: dict[str, list[Any]] = {}
    for name in served.features:
        column = served.schema.columns.get(name)
        if column is None:
            return None
        value: Any
        if column.dtype in ("int", "float"):
            low = column.min if column.min is not None else 0.0
            high = column.max if column.max is not None else low
            value = (low + high) / 2
            value = round(value) if column.dtype == "int" else value
        elif column.dtype == "bool":
            value = False
        elif column.dtype == "category" and column.categories:
            value = column.categories[0]
        elif column.dtype == "datetime":
            value = "2000-01-01T00:00:00"
        else:
            value = ""
        sample[name] = [value] * rows
    return sample


def _json(document: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    from starlette.responses import Response

    try:
        body = json.dumps(document, allow_nan=False, separators=(",", ":"), default=str)
    except ValueError:  # a NaN or infinite output (counted by the live guards): JSON has none, null it is
        body = json.dumps(_finite(document), allow_nan=False, separators=(",", ":"), default=str)
    return Response(body, status_code=status, media_type="application/json", headers=headers)


def _finite(value: Any) -> Any:
    """``value`` with every NaN or infinite float replaced by None."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {key: _finite(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [_finite(item) for item in value]
    return value


def build_app(state: ServingState) -> Starlette:
    """The Starlette app over ``state``; its lifespan starts the batcher, warms it up, then is ready."""
    import asyncio
    import contextlib

    from starlette.applications import Starlette
    from starlette.responses import PlainTextResponse
    from starlette.routing import Route

    served = state.served

    async def predict(request: Request) -> Response:
        arrived = time.perf_counter()
        given = request.headers.get("x-request-id", "")
        request_id = given if REQUEST_ID.match(given) else uuid.uuid4().hex
        headers = {"x-request-id": request_id}
        status = 200
        document: dict[str, Any] | None = None
        try:
            if not state.ready:
                status = 503
                document = {"error": "not ready: the model is warming up or stopping"}
                headers["retry-after"] = "1"
            else:
                length = request.headers.get("content-length")
                if length is not None and length.isdigit() and int(length) > MAX_BODY_BYTES:
                    status, document = 413, {"error": f"body larger than {MAX_BODY_BYTES} bytes"}
                else:
                    state.batcher.refuse_if_late(1, arrived=arrived)  # overloaded: refuse before parsing
                    rows = state.checker.check(parse_body(await request.body()))
                    predictions, probabilities = await state.batcher.submit(
                        rows.columns, rows.count, arrived=arrived
                    )
                    document = {
                        "predictions": predictions,
                        **(
                            {"probabilities": probabilities, "classes": served.classes}
                            if probabilities
                            else {}
                        ),
                        "model": served.model_name,
                        "version": served.label,
                        "request_id": request_id,
                    }
                    if state.log is not None:
                        state.log.append(
                            LoggedRequest(
                                time=time.time(),
                                request_id=request_id,
                                model=served.model_name,
                                version=served.label,
                                columns=rows.columns,
                                predictions=predictions,
                                probabilities=probabilities,
                                classes=served.classes,
                                latency_s=time.perf_counter() - arrived,
                                rows=rows.count,
                            )
                        )
        except TooManyRows as error:
            status, document = 413, {**error.as_dict(), "error": str(error)}
        except InvalidInput as error:
            status, document = 422, error.as_dict()
        except Overloaded as error:
            status, document = 503, {"error": str(error)}
            headers["retry-after"] = str(error.retry_after_s)
        except PredictFailed as error:
            status, document = 500, {"error": f"the model failed to predict: {error}"}
        if status != 200:
            document = {**(document or {}), "request_id": request_id}
        response = _json(document, status, headers)
        state.metrics.count_request("/predict", status, time.perf_counter() - arrived)
        return response

    async def health(request: Request) -> Response:
        state.metrics.count_request("/health", 200)
        return _json({"status": "ok"})

    async def ready(request: Request) -> Response:
        ok = state.ready and not state.stopping
        state.metrics.count_request("/ready", 200 if ok else 503)
        return _json(
            {"ready": ok, "version": served.label, "digest": served.digest, "digest_verified": True},
            200 if ok else 503,
        )

    async def metadata(request: Request) -> Response:
        state.metrics.count_request("/metadata", 200)
        return _json(served.describe())

    async def metrics(request: Request) -> Response:
        state.metrics.count_request("/metrics", 200)
        return PlainTextResponse(
            state.metrics.render(state.batcher, state.log, state.guards),
            media_type="text/plain; version=0.0.4",
        )

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> Any:
        state.batcher.start()
        warming = asyncio.get_running_loop().create_task(_warm_up(state))
        try:
            yield
        finally:
            warming.cancel()
            state.ready = False
            state.stopping = True
            await state.batcher.stop()
            if state.log is not None:
                state.log.close()

    return Starlette(
        routes=[
            Route("/predict", predict, methods=["POST"]),
            Route("/health", health, methods=["GET"]),
            Route("/ready", ready, methods=["GET"]),
            Route("/metadata", metadata, methods=["GET"]),
            Route("/metrics", metrics, methods=["GET"]),
        ],
        lifespan=lifespan,
    )
