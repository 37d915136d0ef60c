"""The inference server's HTTP face: Open Inference Protocol V2, MLflow ``/invocations``, weir's JSON.

Handlers are thin: check the token's scope, read the body (413 past ``max_body``), let a codec from
:mod:`weir.serving.protocols` parse it, let :class:`~weir.serving.service.InferenceService` route
and predict, encode the answer. Each protocol answers errors in its own shape: V2
``{"error": "..."}``, MLflow ``{"error_code": ..., "message": ...}``, weir's one error shape for
weir's routes. Anything unexpected is logged and answered 500 without internals.

Predictions run on the event loop: onnxruntime answers in tens of microseconds, less than a hop to
a thread pool would cost.
"""

from __future__ import annotations

import contextlib
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from typing import Any

import numpy as np
import orjson
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Match, Mount, Route

from weir import __version__
from weir.api.auth import PUBLIC, Auth, scoped
from weir.api.errors import error_body as weir_error_body
from weir.api.errors import install_weir_error_handler
from weir.api.features import read_online_async
from weir.errors import (
    DeploymentNotFoundError,
    MethodNotAllowedError,
    NotFoundError,
    PayloadTooLargeError,
    ServiceUnavailableError,
    SignatureError,
    ValidationError,
    WeirError,
)
from weir.features import PRESENT, FeatureStore
from weir.serving.protocols import mlflow, records, v2
from weir.serving.protocols.v2_metadata import datatype_of, model_metadata, server_metadata
from weir.serving.protocols.v2_metadata import error_body as v2_error_body
from weir.serving.service import InferenceService, Outcome

logger = logging.getLogger(__name__)

JSON = "application/json"
ROUTE_KEY_HEADER = "x-weir-route-key"
OUTPUTS = ("predictions", "probabilities")
ANY_METHOD = ("GET", "POST", "PUT", "DELETE", "PATCH")
Handler = Callable[[Request], Awaitable[Response]]


def create_server_app(
    service: InferenceService,
    control: Any | None,
    *,
    auth: Auth,
    max_body: int,
    features: FeatureStore | None = None,
    ui: Any = None,
    on_shutdown: Callable[[], None] | None = None,
) -> Starlette:
    """Inference routes and the dashboard (``ui``, at ``/ui``) in front of the control plane (``control``,
    mounted at ``/``; an elastic engine's replicas serve inference alone, without either)."""
    api = _Inference(service, auth, max_body, features)
    if ui is not None:  # the dashboard's .json routes answer errors in the API's shape
        install_weir_error_handler(ui)
    route = api.route
    routes: list[BaseRoute] = [  # the prediction routes first: the router tries routes in order
        route("/v2/models/{name}/infer", "predict", "v2", api.v2_infer, "POST"),
        route("/v2/models/{name}/versions/{version}/infer", "predict", "v2", api.v2_infer, "POST"),
        route("/invocations", "predict", "mlflow", api.invocations, "POST"),
        route("/endpoints/{name}/invocations", "predict", "mlflow", api.invocations, "POST"),
        route("/v1/endpoints/{name}/predict", "predict", "weir", api.predict, "POST"),
        route("/v2/health/live", PUBLIC, "v2", api.live),
        route("/v2/health/ready", PUBLIC, "v2", api.ready),
        route("/ping", PUBLIC, "v2", api.live),
        route("/v2", "predict", "v2", api.server_metadata),
        route("/v2/models/{name}", "predict", "v2", api.model_metadata),
        route("/v2/models/{name}/versions/{version}", "predict", "v2", api.model_metadata),
        route("/v2/models/{name}/ready", "predict", "v2", api.model_ready),
        route("/v2/models/{name}/versions/{version}/ready", "predict", "v2", api.model_ready),
        route("/v1/endpoints/{name}/feedback", "predict", "weir", api.feedback, "POST"),
        route("/v1/status", "read", "weir", api.status),
        route("/api/v1/features/online", "read", "weir", api.features_online, "POST"),  # fast path of the same route
        route("/metrics", "read", "weir", api.metrics),
        # the protocols' own paths answer a wrong method (405) or path (404) in their own error shape
        route("/v2/{rest:path}", PUBLIC, "v2", api.unmatched, *ANY_METHOD),
        route("/invocations", PUBLIC, "mlflow", api.unmatched, *ANY_METHOD),
        route("/endpoints/{rest:path}", PUBLIC, "mlflow", api.unmatched, *ANY_METHOD),
        route("/v1/{rest:path}", PUBLIC, "weir", api.unmatched, *ANY_METHOD),
        *([Mount("/ui", app=ui)] if ui is not None else []),
        *([Mount("/", app=control)] if control is not None else []),
    ]

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        yield
        if on_shutdown is not None:
            on_shutdown()

    app = _ServerApp(routes=routes, lifespan=lifespan)
    app.fast = _FastV2Infer(api)
    app.state.service = service
    return app


class _ServerApp(Starlette):
    """The server: ``POST /v2/models/{name}/infer``, the hot route, skips Starlette's middleware, router
    and request objects (the same handler code answers, with the same scope check and error shape)."""

    fast: _FastV2Infer

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] == "http" and scope["method"] == "POST":
            name = _v2_infer_name(scope["path"])
            if name is not None:
                await self.fast(name, scope, receive, send)
                return
        await super().__call__(scope, receive, send)


def _v2_infer_name(path: str) -> str | None:
    """``name`` of ``/v2/models/{name}/infer`` (a plain name: anything else goes to the router)."""
    if path.startswith("/v2/models/") and path.endswith("/infer"):
        name = path[11:-6]
        if name and "/" not in name:
            return name
    return None


class _FastV2Infer:
    def __init__(self, api: _Inference) -> None:
        self.api = api

    async def __call__(self, name: str, scope: Any, receive: Any, send: Any) -> None:
        api = self.api
        headers = {k.decode("latin-1"): v.decode("latin-1") for k, v in scope["headers"]}
        try:
            api.auth.check(headers, "predict")
            body = await _read_body(receive, headers, api.max_body)
            status, answer, payload = await api.v2_core(name, None, headers, body)
        except WeirError as exc:
            api.service.metrics.errors.labels(name if name in api.service.routes else "_unknown", exc.code).inc()
            status, answer, payload = exc.status, {"content-type": JSON}, v2_error_body(exc.message)
        except Exception:
            logger.exception("unexpected error on POST %s", scope["path"])
            status, answer, payload = 500, {"content-type": JSON}, v2_error_body("Internal error; see the server log.")
        raw = [(k.encode("latin-1"), v.encode("latin-1")) for k, v in answer.items()]
        raw.append((b"content-length", str(len(payload)).encode()))
        await send({"type": "http.response.start", "status": status, "headers": raw})
        await send({"type": "http.response.body", "body": payload})


async def _read_body(receive: Any, headers: Mapping[str, str], limit: int) -> bytes:
    length = headers.get("content-length")
    if length is not None and length.isdigit() and int(length) > limit:
        raise PayloadTooLargeError(f"The body has {length} bytes; this server takes at most {limit}.")
    chunks, size = [], 0
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            raise ValidationError("The client disconnected before sending the whole body.")
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > limit:
            raise PayloadTooLargeError(f"The body is over {limit} bytes, this server's limit.")
        chunks.append(chunk)
        if not message.get("more_body", False):
            return b"".join(chunks)


class _Inference:
    def __init__(self, service: InferenceService, auth: Auth, max_body: int, features: FeatureStore | None) -> None:
        self.service = service
        self.features = features
        self.auth = auth
        self.max_body = max_body

    def route(self, path: str, scope: str, shape: str, handler: Handler, *methods: str) -> Route:
        """A route that checks ``scope`` first and answers every failure in the protocol's ``shape``."""
        answer = SHAPES[shape]
        auth, errors = self.auth, self.service.metrics.errors

        async def endpoint(request: Request) -> Response:
            try:
                if scope != PUBLIC:
                    request.state.actor = auth.check(request.headers, scope)
                return await handler(request)
            except WeirError as exc:
                name = request.path_params.get("name", "")
                errors.labels(name if name in self.service.routes else "_unknown", exc.code).inc()
                return answer(exc.status, exc.code, exc.message, exc.details)
            except Exception:
                logger.exception("unexpected error on %s %s", request.method, request.url.path)
                return answer(500, "internal_error", "Internal error; see the server log.", {})

        scoped(scope, endpoint)
        return Route(path, endpoint, methods=list(methods or ["GET"]))

    async def unmatched(self, request: Request) -> Response:
        """No route takes this method and path: 405 if another method would, else 404."""
        app_routes = request.app.router.routes
        allowed = sorted(
            m
            for r in app_routes
            if isinstance(r, Route) and r.matches(request.scope)[0] == Match.PARTIAL
            for m in (r.methods or ())
            if m != "HEAD"
        )
        if allowed:
            raise MethodNotAllowedError(
                f"{request.method} is not allowed on {request.url.path}; use {', '.join(allowed)}.", allowed=allowed
            )
        raise NotFoundError(f"No route matches {request.method} {request.url.path}.")

    async def _body(self, request: Request) -> bytes:
        length = request.headers.get("content-length")
        if length is not None and length.isdigit() and int(length) > self.max_body:
            raise PayloadTooLargeError(f"The body has {length} bytes; this server takes at most {self.max_body}.")
        chunks, size = [], 0
        async for chunk in request.stream():
            size += len(chunk)
            if size > self.max_body:
                raise PayloadTooLargeError(f"The body is over {self.max_body} bytes, this server's limit.")
            chunks.append(chunk)
        return b"".join(chunks)

    # --- health and metadata (V2) ----------------------------------------------------------------

    async def live(self, request: Request) -> Response:
        return Response(b"", status_code=200)

    async def ready(self, request: Request) -> Response:
        return Response(b"", status_code=200 if self.service.ready else 503)

    async def server_metadata(self, request: Request) -> Response:
        return _json(server_metadata("weir", __version__, ["binary_tensor_data"]))

    async def model_metadata(self, request: Request) -> Response:
        name = request.path_params["name"]
        routes = self.service.endpoint(name)
        version = _version(request)
        served = routes.pinned(version)[1] if version is not None else routes.primary
        return _json(
            model_metadata(
                name,
                [str(s.number) for _, s in routes.versions()],
                served.runtime.name,
                _input_metadata(served),
                list(served.outputs),
            )
        )

    async def model_ready(self, request: Request) -> Response:
        routes = self.service.endpoint(request.path_params["name"])
        version = _version(request)
        if version is not None:
            routes.pinned(version)
        return Response(b"", status_code=200)

    # --- predictions -----------------------------------------------------------------------------

    async def v2_infer(self, request: Request) -> Response:
        status, headers, payload = await self.v2_core(
            request.path_params["name"], _version(request), request.headers, await self._body(request)
        )
        return Response(payload, status_code=status, headers=headers)

    async def v2_core(
        self, name: str, version: int | None, headers: Mapping[str, str], body: bytes
    ) -> tuple[int, dict[str, str], bytes]:
        """A V2 inference request to (status, headers, body); shared by the route and the fast path."""
        start = time.perf_counter()
        header = headers.get("inference-header-content-length")
        if header is not None and not header.isdigit():
            raise ValidationError(f"Inference-Header-Content-Length {header!r} is not a byte count.")
        parsed = v2.parse_infer_request(body, int(header) if header is not None else None)
        data: Any
        names = self.service.endpoint(name).primary.inputs.names or ()
        if len(parsed.inputs) == 1 and parsed.inputs[0].name not in names:  # one positional tensor
            data = parsed.inputs[0].data
        else:
            data = {
                t.name: t.data[:, 0] if t.data.ndim == 2 and t.data.shape[1] == 1 else t.data for t in parsed.inputs
            }
        if parsed.outputs is not None:  # checked before predicting: a refused request is neither logged nor mirrored
            unknown = [o.name for o in parsed.outputs if o.name not in OUTPUTS]
            if unknown:
                raise ValidationError(
                    f"Unknown output(s) {', '.join(map(repr, unknown))}; outputs are {', '.join(OUTPUTS)}.",
                    field="outputs",
                )
        outcome = await self._predict(name, version, headers, data, parsed.id, "v2")
        p = outcome.prediction
        available = {"predictions": p.predictions, "probabilities": p.probabilities}
        if parsed.outputs is None:
            outputs = [(n, a) for n, a in available.items() if a is not None]
        else:
            missing = [o.name for o in parsed.outputs if available[o.name] is None]
            if missing:
                raise ValidationError(
                    f"This model has no {missing[0]!r} output (it is not a probabilistic classifier)."
                )
            outputs = [(o.name, available[o.name]) for o in parsed.outputs]  # type: ignore[misc]
        encoded, json_length = v2.encode_infer_response(
            model_name=outcome.endpoint,
            model_version=str(outcome.served.number),
            request_id=parsed.id,
            outputs=outputs,
            binary=v2.binary_outputs(parsed, [n for n, _ in outputs]),
        )
        answer = _route_headers(outcome)
        answer["content-type"] = JSON
        if json_length is not None:
            answer["inference-header-content-length"] = str(json_length)
            answer["content-type"] = "application/octet-stream"
        self._observe(outcome, start, "v2")
        return 200, answer, encoded

    async def invocations(self, request: Request) -> Response:
        start = time.perf_counter()
        data = mlflow.parse_invocation(await self._body(request), request.headers.get("content-type"))
        outcome = await self._predict(
            request.path_params.get("name"), _version(request), request.headers, data, None, "mlflow"
        )
        encoded = mlflow.encode_predictions(outcome.prediction.predictions)
        self._observe(outcome, start, "mlflow")
        return Response(encoded, headers=_route_headers(outcome), media_type=JSON)

    async def predict(self, request: Request) -> Response:
        start = time.perf_counter()
        parsed = records.parse_predict_request(await self._body(request))
        table = parsed.table
        if parsed.entities is not None:
            features = self.features
            table = (
                self._online_features(request, parsed.entities)
                if features is None or features.local
                else await run_in_threadpool(self._online_features, request, parsed.entities)
            )
        outcome = await self._predict(
            request.path_params["name"],
            _version(request),
            request.headers,
            table,
            parsed.request_id,
            "json",
            parsed.route_key,
        )
        p = outcome.prediction
        encoded = records.encode_predict_response(
            request_id=outcome.request_id,
            model=outcome.served.model,
            version=outcome.served.number,
            route=outcome.route,
            runtime=outcome.served.runtime.name,
            predictions=p.predictions,
            probabilities=p.probabilities,
            classes=p.classes,
        )
        self._observe(outcome, start, "json")
        return Response(encoded, headers=_route_headers(outcome), media_type=JSON)

    async def features_online(self, request: Request) -> Response:
        if self.features is None:
            raise ServiceUnavailableError("This server has no feature store.")
        return Response(await read_online_async(self.features, await self._body(request)), media_type=JSON)

    def _online_features(self, request: Request, entities: list[dict[str, Any]]) -> Any:
        """The model input for a request by entity keys: the endpoint's feature service read online."""
        name = request.path_params["name"]
        routes = self.service.routes.get(name)
        if routes is None:
            raise DeploymentNotFoundError(f"Endpoint {name!r} is not served here; `weir deployments list` shows them.")
        service = routes.deployment.options.get("feature_service")
        if not service:
            raise ValidationError(
                f"Endpoint {name!r} has no feature service, so it cannot look up entity keys; send records or "
                f"columns, or deploy it with --feature-service NAME.",
                field="entities",
            )
        if self.features is None:
            raise ServiceUnavailableError("This server has no feature store.")
        online = self.features.get_online(service, entities)
        missing = [f for f, statuses in online.statuses.items() if any(s != PRESENT for s in statuses)]
        if missing:
            raise SignatureError(
                f"No fresh online value of {missing[0]!r} for some entities "
                f"({', '.join(sorted({s for s in online.statuses[missing[0]] if s != PRESENT}))}); "
                "materialise or push the feature values, or send records.",
                field=missing[0],
            )
        return mlflow.table_from_columns(online.values, "entities")

    async def feedback(self, request: Request) -> Response:
        labels = records.parse_feedback(await self._body(request))
        count = await run_in_threadpool(self.service.feedback, request.path_params["name"], labels)  # disk I/O
        return _json({"recorded": count})

    async def _predict(
        self,
        name: str | None,
        version: int | None,
        headers: Mapping[str, str],
        data: Any,
        request_id: str | None,
        protocol: str,
        route_key: str | None = None,
    ) -> Outcome:
        if name is None:  # the bare MLflow route: the only endpoint
            if len(self.service.routes) != 1:
                raise ValidationError(
                    f"/invocations needs exactly one endpoint on this server; there are {len(self.service.routes)}. "
                    "Use /endpoints/{name}/invocations."
                )
            name = next(iter(self.service.routes))
        key = route_key or headers.get(ROUTE_KEY_HEADER)
        if key is None:
            field = self.service.endpoint(name).deployment.route_key
            if field and isinstance(data, dict) and field in data and len(data[field]) == 1:
                key = str(data[field][0])
        return await self.service.predict_async(
            name, data, route_key=key, request_id=request_id, version=version, protocol=protocol
        )

    def _observe(self, outcome: Outcome, start: float, protocol: str) -> None:
        served = outcome.served
        metrics = self.service.metrics.for_route(outcome.endpoint, served.model, served.number, outcome.route, protocol)
        metrics.latency.observe(time.perf_counter() - start)

    # --- operations ------------------------------------------------------------------------------

    async def status(self, request: Request) -> Response:
        return _json(self.service.status())

    async def metrics(self, request: Request) -> Response:
        content, media = self.service.metrics.render()
        return Response(content, media_type=media)


def _v2_error(status: int, code: str, message: str, details: Mapping[str, Any]) -> Response:
    return Response(v2_error_body(message), status_code=status, media_type=JSON)


_MLFLOW_CODES = {400: "BAD_REQUEST", 401: "UNAUTHENTICATED", 403: "PERMISSION_DENIED", 404: "RESOURCE_DOES_NOT_EXIST"}


def _mlflow_error(status: int, code: str, message: str, details: Mapping[str, Any]) -> Response:
    body = {"error_code": _MLFLOW_CODES.get(status, code.upper()), "message": message}
    return Response(orjson.dumps(body), status_code=status, media_type=JSON)


def _weir_error(status: int, code: str, message: str, details: Mapping[str, Any]) -> Response:
    body = weir_error_body(code, message, status, details)
    return Response(orjson.dumps(body, default=str), status_code=status, media_type=JSON)


SHAPES: dict[str, Callable[[int, str, str, Mapping[str, Any]], Response]] = {
    "v2": _v2_error,
    "mlflow": _mlflow_error,
    "weir": _weir_error,
}
"""Each protocol's error shape: V2 ``{"error"}``, MLflow ``{"error_code", "message"}``, weir's own."""


def _version(request: Request) -> int | None:
    raw = request.path_params.get("version")
    if raw is None:
        return None
    if not raw.isdigit():
        raise ValidationError(f"Model version {raw!r} must be a version number such as 3.", field="version")
    return int(raw)


def _json(document: Any) -> Response:
    return Response(orjson.dumps(document, option=orjson.OPT_SERIALIZE_NUMPY), media_type=JSON)


def _route_headers(outcome: Outcome) -> dict[str, str]:
    return {
        "x-weir-model": outcome.served.model,
        "x-weir-version": str(outcome.served.number),
        "x-weir-route": outcome.route,
        "x-request-id": outcome.request_id,
    }


def _v2_type(type_name: str | None) -> str:
    """A signature's type as a V2 datatype; strings, categories and datetimes travel as BYTES."""
    try:
        return datatype_of(np.empty(0, dtype=np.dtype(type_name)))
    except (TypeError, WeirError):
        return "BYTES"


def _input_metadata(served: Any) -> list[dict[str, Any]]:
    signature = served.version.signature
    if signature is None:
        return []
    schema = signature.inputs
    if schema.columns is None:
        return [{"name": "input-0", "datatype": _v2_type(schema.dtype), "shape": list(schema.shape)}]
    return [{"name": n, "datatype": _v2_type(t), "shape": [-1]} for n, t in schema.columns]
