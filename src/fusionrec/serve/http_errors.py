"""Every error becomes JSON ``{"error": {"code", "message", "details"?}}`` with a fitting 4xx/5xx status.

An unexpected exception is answered by :class:`~fusionrec.serve.middleware.ErrorBoundaryMiddleware` with
:func:`unexpected_error` (a registered ``Exception`` handler would answer and then re-raise, and the server
would close the client's keep-alive connection).
"""

from __future__ import annotations

import functools
import logging
import math
import re
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from starlette.exceptions import HTTPException as StarletteHTTPException

from fusionrec.errors import DataError, UnknownIdError
from fusionrec.serve.errors import ServeError, StoreUnavailableError

logger = logging.getLogger(__name__)

_SHOWN_INPUT = 80
_UNPARSABLE_BODY = "There was an error parsing the body"
_HTTP_CODES = {404: "not_found", 405: "method_not_allowed", 413: "body_too_large", 415: "unsupported_media_type"}


def error_response(status: int, code: str, message: str, details: list[dict[str, str]] | None = None) -> JSONResponse:
    """The JSON error body every route and middleware answers with."""
    body: dict[str, Any] = {"code": code, "message": message}
    if details:
        body["details"] = details
    return JSONResponse({"error": body}, status_code=status)


def install_error_handlers(app: FastAPI) -> None:
    """Register the handlers that turn exceptions into JSON errors."""
    app.add_exception_handler(RequestValidationError, _validation_error)  # type: ignore[arg-type]
    app.add_exception_handler(StarletteHTTPException, _http_error)  # type: ignore[arg-type]
    app.add_exception_handler(ServeError, _serve_error)  # type: ignore[arg-type]
    app.add_exception_handler(UnknownIdError, _unknown_id)  # type: ignore[arg-type]
    app.add_exception_handler(DataError, _data_error)  # type: ignore[arg-type]


async def _validation_error(_request: Request, exc: RequestValidationError) -> JSONResponse:
    errors = list(exc.errors())
    details = [_detail(e) for e in errors]
    if any(e.get("type") == "json_invalid" for e in errors):
        reason = errors[0].get("ctx", {}).get("error", "invalid JSON")
        return error_response(
            400, "malformed_json", f"the request body is not valid JSON ({reason}); send a JSON object"
        )
    message = "; ".join(f"{d['location']}: {d['message']} (got {d['input']})" for d in details[:5])
    return error_response(422, "invalid_request", f"{len(details)} invalid value(s): {message}", details)


def _detail(error: dict[str, Any]) -> dict[str, str]:
    location = ".".join(str(part) for part in error.get("loc", ()))
    shown = repr(error.get("input"))
    if len(shown) > _SHOWN_INPUT:
        shown = shown[:_SHOWN_INPUT] + "..."
    return {
        "location": location,
        "message": str(error.get("msg", "")),
        "type": str(error.get("type", "")),
        "input": shown,
    }


async def _http_error(request: Request, exc: StarletteHTTPException) -> Response:
    code = _HTTP_CODES.get(exc.status_code, "http_error")
    message = str(exc.detail)
    if exc.status_code == 404 and message == "Not Found":
        message = "no such route; the API is described at /openapi.json"
    if exc.status_code == 400 and message == _UNPARSABLE_BODY:  # FastAPI's answer to a RecursionError, e.g.
        code = "malformed_json"
        message = "the request body could not be parsed as JSON (is it nested too deeply?); send a JSON object"
    headers = dict(exc.headers or {})
    if exc.status_code == 405:  # Starlette names only the first matching route's methods
        allowed = ", ".join(_allowed_methods(request))
        headers["Allow"] = allowed
        if request.method == "OPTIONS":
            return Response(status_code=204, headers=headers)
        message = f"{request.method} is not allowed on {request.url.path}; it allows {allowed}"
    response = error_response(exc.status_code, code, message)
    response.headers.update(headers)
    return response


def _allowed_methods(request: Request) -> list[str]:
    """Methods the OpenAPI document lists for every path template matching the request's path."""
    methods = {"OPTIONS"}
    for template, operations in request.app.openapi()["paths"].items():
        if _template_pattern(template).fullmatch(request.url.path):
            methods |= {method.upper() for method in operations}
    return sorted(methods)


@functools.lru_cache(maxsize=256)
def _template_pattern(template: str) -> re.Pattern[str]:
    """``/v1/items/{item_id}`` -> a pattern matching ``/v1/items/<one path segment>``."""
    parts = re.split(r"(\{[^}]+\})", template)
    return re.compile("".join("[^/]+" if part.startswith("{") else re.escape(part) for part in parts))


async def _serve_error(_request: Request, exc: ServeError) -> JSONResponse:
    response = error_response(exc.status, exc.code, exc.message)
    if isinstance(exc, StoreUnavailableError):
        response.headers["Retry-After"] = str(max(1, math.ceil(exc.retry_after_s)))  # whole seconds (RFC 9110)
    return response


async def _unknown_id(_request: Request, exc: UnknownIdError) -> JSONResponse:
    return error_response(404, "not_found", str(exc))


async def _data_error(_request: Request, exc: DataError) -> JSONResponse:
    return error_response(422, "invalid_input", str(exc))


def unexpected_error(method: str, path: str, exc: Exception) -> JSONResponse:
    """Log ``exc`` with its traceback and answer 500 without details of it."""
    logger.exception("unexpected error on %s %s", method, path, exc_info=exc)
    return error_response(500, "internal_error", f"unexpected {type(exc).__name__}; see the server log")
