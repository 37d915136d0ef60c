"""The one place that puts failures on the wire, in weir's one error shape.

Every error answer of the REST API is::

    {"error": {"code": "model_not_found", "message": "Model 'churn' does not exist; ...", "status": 404,
               "details": {...}}}

``details`` appears only when there are some. :func:`install_error_handlers` maps weir's own
errors (:class:`~weir.errors.WeirError`: its ``status`` and ``code``), request validation (422
``invalid_request``), routing errors (404 ``not_found``, 405 ``method_not_allowed``, …) and any
other exception (500 ``internal_error``, logged here, never leaked) onto that shape.

>>> error_body("not_found", "No route matches GET /nope.", 404)
{'error': {'code': 'not_found', 'message': 'No route matches GET /nope.', 'status': 404}}
"""

from __future__ import annotations

import http
import logging
from collections.abc import Mapping, Sequence
from typing import Any

import orjson
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from starlette.applications import Starlette
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.responses import PlainTextResponse, Response

from weir.errors import WeirError

logger = logging.getLogger(__name__)

HTTP_CODES: dict[int, str] = {
    400: "bad_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    406: "not_acceptable",
    409: "conflict",
    413: "payload_too_large",
    415: "unsupported_media_type",
    429: "too_many_requests",
}
"""Stable codes for errors raised by routing and the framework rather than by weir."""


def error_body(code: str, message: str, status: int, details: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """The error shape; the only function that builds it."""
    error: dict[str, Any] = {"code": code, "message": message, "status": status}
    if details:
        error["details"] = dict(details)
    return {"error": error}


def _respond(body: dict[str, Any], headers: Mapping[str, str] | None = None) -> Response:
    content = orjson.dumps(body, default=str, option=orjson.OPT_NON_STR_KEYS | orjson.OPT_SERIALIZE_NUMPY)
    return Response(content, status_code=int(body["error"]["status"]), headers=headers, media_type="application/json")


def error_response(
    code: str,
    message: str,
    status: int,
    *,
    details: Mapping[str, Any] | None = None,
    headers: Mapping[str, str] | None = None,
) -> Response:
    return _respond(error_body(code, message, status, details), headers)


async def _weir_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, WeirError)
    if exc.status >= 500:
        logger.error("%s %s failed: %s (%s)", request.method, request.url.path, exc.message, exc.code)
    else:
        logger.debug("%s %s: %s (%s)", request.method, request.url.path, exc.message, exc.code)
    return _respond({"error": exc.to_dict()})


def _location(loc: Sequence[Any]) -> str:
    return ".".join(str(part) for part in loc) or "request"


async def _invalid_request(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, RequestValidationError)
    errors = [
        {"location": _location(e.get("loc", ())), "message": str(e.get("msg", "")), "type": str(e.get("type", ""))}
        for e in exc.errors()
    ]
    summary = "; ".join(f"{e['location']}: {e['message']}" for e in errors[:5])
    if len(errors) > 5:
        summary += f"; and {len(errors) - 5} more"
    message = f"Invalid request to {request.method} {request.url.path}: {summary or 'malformed request'}."
    return error_response("invalid_request", message, 422, details={"errors": errors})


async def _http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, StarletteHTTPException)
    status = exc.status_code
    headers = dict(exc.headers) if exc.headers else None
    if status == 404 and exc.detail == "Not Found":
        message = f"No route matches {request.method} {request.url.path}; the API is described at /docs."
    elif status == 405:
        allowed = (headers or {}).get("allow") or (headers or {}).get("Allow")
        message = f"Method {request.method} is not allowed on {request.url.path}" + (
            f"; allowed: {allowed}." if allowed else "."
        )
    elif isinstance(exc.detail, str) and exc.detail:
        message = exc.detail
    else:
        message = _phrase(status)
    code = HTTP_CODES.get(status, "internal_error" if status >= 500 else "http_error")
    return error_response(code, message, status, headers=headers)


async def _internal_error(request: Request, exc: Exception) -> Response:
    logger.exception("unhandled error in %s %s", request.method, request.url.path, exc_info=exc)
    return error_response(
        "internal_error",
        "The server failed to handle this request; the error is in its log. Report it if it persists.",
        500,
    )


def _phrase(status: int) -> str:
    try:
        return http.HTTPStatus(status).phrase
    except ValueError:
        return f"HTTP error {status}"


def install_weir_error_handler(app: Starlette) -> None:
    """Answer weir's own errors raised in ``app`` (the dashboard's ``.json`` routes), and routing errors on
    its ``.json`` paths, in the one error shape; its other paths keep Starlette's plain answers."""
    app.add_exception_handler(WeirError, _weir_error)
    app.add_exception_handler(StarletteHTTPException, _http_error_on_json)


async def _http_error_on_json(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, StarletteHTTPException)
    if request.url.path.endswith(".json"):
        return await _http_error(request, exc)
    return PlainTextResponse(str(exc.detail), status_code=exc.status_code, headers=exc.headers)


def install_error_handlers(app: FastAPI) -> None:
    """Route every failure of ``app`` through the one error shape."""
    app.add_exception_handler(WeirError, _weir_error)
    app.add_exception_handler(RequestValidationError, _invalid_request)
    app.add_exception_handler(StarletteHTTPException, _http_error)
    app.add_exception_handler(Exception, _internal_error)
