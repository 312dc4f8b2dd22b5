"""Pure ASGI middleware: an error boundary, a request body limit, Prometheus request metrics, security headers
and request ids.

Every response carries ``X-Request-ID`` (the client's, when it sent a
usable one, else a new one), and every log record made while the request
is handled has it as ``record.request_id`` (``-`` outside requests), so a
log line can be matched to the response a client saw.
"""

from __future__ import annotations

import contextvars
import json
import logging
import re
import time
import uuid
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from fusionrec.serve.http_errors import unexpected_error
from fusionrec.serve.metrics import ServiceMetrics


class ErrorBoundaryMiddleware:
    """Answer an unexpected exception with a JSON 500 and keep the client's connection open.

    Starlette's outermost error handler sends its 500 and then re-raises, so
    the server closes the connection and the client's next request on it
    fails. This boundary answers and returns instead. When part of a
    response is already out, the exception goes on: only closing the
    connection can end that response.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = False

        async def tracking_send(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, receive, tracking_send)
        except Exception as exc:
            if started:
                raise
            await unexpected_error(scope["method"], scope["path"], exc)(scope, receive, send)


class BodyLimitMiddleware:
    """Answer 413 with a JSON error when a request body exceeds ``max_bytes``.

    A declared ``Content-Length`` is checked before anything is read; a
    chunked body (no length) is read up to the limit first and then handed
    on, so the application never sees a cut-off body.
    """

    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app, self.max_bytes = app, max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = dict(scope["headers"])
        declared = headers.get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > self.max_bytes:
            await self._refuse(send, int(declared))
            return
        if b"transfer-encoding" not in headers:
            await self.app(scope, receive, send)
            return
        body, complete, size = await self._read_up_to_limit(receive)
        if not complete:
            await self._refuse(send, size)
            return
        replayed = False

        async def replay() -> Message:
            nonlocal replayed
            if replayed:
                return await receive()
            replayed = True
            return {"type": "http.request", "body": body, "more_body": False}

        await self.app(scope, replay, send)

    async def _read_up_to_limit(self, receive: Receive) -> tuple[bytes, bool, int]:
        """The streamed body, whether it ended within the limit, and the bytes received (over the limit if not)."""
        chunks: list[bytes] = []
        size = 0
        while True:
            message = await receive()
            if message["type"] != "http.request":
                return b"".join(chunks), True, size
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > self.max_bytes:
                return b"", False, size
            chunks.append(chunk)
            if not message.get("more_body", False):
                return b"".join(chunks), True, size

    async def _refuse(self, send: Send, size: int) -> None:
        message = (
            f"the request body has {size:,} bytes or more but at most {self.max_bytes:,} are accepted; "
            "send less data per request"
        )
        body = json.dumps({"error": {"code": "body_too_large", "message": message}}).encode()
        headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
        await send({"type": "http.response.start", "status": 413, "headers": headers})
        await send({"type": "http.response.body", "body": body})


class MetricsMiddleware:
    """Count requests by method, route template and status, and time them."""

    def __init__(self, app: ASGIApp, metrics: ServiceMetrics) -> None:
        self.app, self.metrics = app, metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started, status = time.perf_counter(), 500

        async def tracking_send(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
            await send(message)

        try:
            await self.app(scope, receive, tracking_send)
        finally:
            route: Any = scope.get("route")
            template = getattr(route, "path", None) or "unmatched"
            self.metrics.observe_request(scope["method"], template, status, time.perf_counter() - started)


SECURITY_HEADERS = [
    # the page loads its own script and style only; posters may come from any http(s) host
    (
        b"content-security-policy",
        b"default-src 'self'; img-src 'self' https: http: data:; script-src 'self'; style-src 'self'; "
        b"object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'",
    ),
    (b"x-frame-options", b"DENY"),
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"no-referrer"),
]


class SecurityHeadersMiddleware:
    """Add :data:`SECURITY_HEADERS` to every response: no framing, no sniffing, no foreign scripts."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = [*message.get("headers", []), *SECURITY_HEADERS]
            await send(message)

        await self.app(scope, receive, with_headers)


REQUEST_ID = contextvars.ContextVar("fusionrec_request_id", default="-")
_USABLE_ID = re.compile(r"[A-Za-z0-9._:-]{1,128}")


class RequestIdMiddleware:
    """Take the client's ``X-Request-ID`` (letters, digits, ``._:-``, at most 128) or make one; echo it back."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        sent = dict(scope["headers"]).get(b"x-request-id", b"").decode("latin-1")
        request_id = sent if _USABLE_ID.fullmatch(sent) else uuid.uuid4().hex
        token = REQUEST_ID.set(request_id)

        async def with_id(message: Message) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = [*message.get("headers", []), (b"x-request-id", request_id.encode())]
            await send(message)

        try:
            await self.app(scope, receive, with_id)
        finally:
            REQUEST_ID.reset(token)


def install_request_id_logging() -> None:
    """Give every log record a ``request_id`` attribute (the current request's, else ``-``); idempotent.

    A record factory rather than a filter: filters on a logger do not see its children's records, and
    handlers are the application's to configure. Formats may then use ``%(request_id)s``.
    """
    factory = logging.getLogRecordFactory()
    if getattr(factory, "adds_request_id", False):
        return

    def record_with_request_id(*args: Any, **kwargs: Any) -> logging.LogRecord:
        record = factory(*args, **kwargs)
        record.request_id = REQUEST_ID.get()
        return record

    record_with_request_id.adds_request_id = True  # type: ignore[attr-defined]
    logging.setLogRecordFactory(record_with_request_id)


class RequestIdFilter(logging.Filter):
    """A handler filter that gives records made outside the record factory a ``request_id`` too (``-``)."""

    def filter(self, record: logging.LogRecord) -> bool:
        if not hasattr(record, "request_id"):
            record.request_id = REQUEST_ID.get()
        return True
