"""Pure ASGI middleware: an error boundary, a request body limit and Prometheus request metrics."""

from __future__ import annotations

import json
import time
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
        body, complete = await self._read_up_to_limit(receive)
        if not complete:
            await self._refuse(send, len(body))
            return
        replayed = False

        async def replay() -> Message:
            nonlocal replayed
            if replayed:
                return await receive()
            replayed = True
            return {"type": "http.request", "body": body, "more_body": False}

        await self.app(scope, replay, send)

    async def _read_up_to_limit(self, receive: Receive) -> tuple[bytes, bool]:
        """The streamed body and whether it ended within the limit."""
        chunks: list[bytes] = []
        size = 0
        while True:
            message = await receive()
            if message["type"] != "http.request":
                return b"".join(chunks), True
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > self.max_bytes:
                return b"".join(chunks), False
            chunks.append(chunk)
            if not message.get("more_body", False):
                return b"".join(chunks), True

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
