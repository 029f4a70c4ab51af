"""ASGI middleware that gives each request its ids, a log line and its metrics.

For HTTP and WebSocket connections it picks a new ``request_id`` and the
``correlation_id``, which is the caller's well-formed X-Correlation-ID or else a new one.
A replaced id is logged at INFO by its length only, because it may contain anything the
caller sent. The middleware binds both ids with ``structlog.contextvars``, so every log
record of the request carries them, and stores them in ``request.state``, where the
GraphQL context reads the correlation id. An HTTP response gets the correlation id back
in its X-Correlation-ID header, is counted by route and status, and is logged once at
INFO. The log line contains the method, path (without the query string), status,
duration and GraphQL operation name. It never contains the headers, query string or
body, which carry tokens and complainants' personal data.
"""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import Sequence

import structlog
from starlette.datastructures import MutableHeaders
from starlette.requests import HTTPConnection
from starlette.routing import BaseRoute, Match
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from cms_graph.graphql.context import (
    CORRELATION_ID_FORMAT,
    is_valid_correlation_id,
    new_correlation_id,
)
from cms_graph.graphql.operation_names import OPERATION_STATE_KEY
from cms_graph.metrics import Metrics

request_logger = logging.getLogger("cms_graph.http")

CORRELATION_ID_HEADER = "X-Correlation-ID"
# The ``route`` label of a request that matched no route, because raw paths are unbounded.
UNMATCHED_ROUTE = "unmatched"


class RequestContextMiddleware:
    def __init__(
        self,
        app: ASGIApp,
        *,
        routes: Sequence[BaseRoute],
        metrics: Metrics,
        graphql_path: str = "/graphql",
    ) -> None:
        self.app = app
        self.routes = routes
        self.metrics = metrics
        self.graphql_path = graphql_path

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        request_id = uuid.uuid4().hex
        supplied = HTTPConnection(scope).headers.get(CORRELATION_ID_HEADER)
        replaced = supplied is not None and not is_valid_correlation_id(supplied)
        correlation_id = new_correlation_id() if supplied is None or replaced else supplied
        state = scope.setdefault("state", {})
        state["request_id"] = request_id
        state["correlation_id"] = correlation_id
        with structlog.contextvars.bound_contextvars(
            request_id=request_id, correlation_id=correlation_id
        ):
            if replaced:
                request_logger.info(
                    "%s of %d characters is invalid and was replaced by %s. A valid id matches %s",
                    CORRELATION_ID_HEADER,
                    len(supplied or ""),
                    correlation_id,
                    CORRELATION_ID_FORMAT,
                )
            if scope["type"] == "websocket":
                await self.app(scope, receive, send)
            else:
                await self._serve_http(scope, receive, send, correlation_id)

    async def _serve_http(
        self, scope: Scope, receive: Receive, send: Send, correlation_id: str
    ) -> None:
        started = time.perf_counter()
        # Stays 500 when the app raises: Starlette's error handler, outside this
        # middleware, then sends the 500 response.
        status = 500

        async def send_with_correlation_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                MutableHeaders(scope=message).append(CORRELATION_ID_HEADER, correlation_id)
            await send(message)

        try:
            await self.app(scope, receive, send_with_correlation_id)
        finally:
            seconds = time.perf_counter() - started
            route = self._route_of(scope)
            operation = scope["state"].get(OPERATION_STATE_KEY)
            self.metrics.count_request(scope["method"], route, status)
            if route == self.graphql_path:
                self.metrics.observe_graphql(operation, seconds)
            request_logger.info(
                "request",
                extra={
                    "method": scope["method"],
                    "path": scope["path"],
                    "status": status,
                    "duration_ms": round(seconds * 1000, 3),
                    "operation": operation,
                },
            )

    def _route_of(self, scope: Scope) -> str:
        """Return the path template of the route that matches ``scope``."""
        for route in self.routes:
            match, _child_scope = route.matches(scope)
            if match is not Match.NONE:
                return str(getattr(route, "path", UNMATCHED_ROUTE))
        return UNMATCHED_ROUTE


__all__ = ["CORRELATION_ID_HEADER", "RequestContextMiddleware"]
