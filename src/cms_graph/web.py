"""The ASGI application: GraphQL at /graphql, health and readiness probes."""

from __future__ import annotations

import contextlib
import logging
from collections.abc import AsyncIterator
from typing import Any

import dramatiq
from cross_web import AsyncHTTPRequestAdapter, HTTPException
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.middleware import Middleware
from starlette.requests import HTTPConnection, Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Route, WebSocketRoute
from starlette.types import Receive, Scope, Send
from starlette.websockets import WebSocket
from strawberry.asgi import GraphQL
from strawberry.exceptions import ConnectionRejectionError
from strawberry.http import GraphQLHTTPResponse, GraphQLRequestData
from strawberry.schema.exceptions import InvalidOperationTypeError
from strawberry.subscriptions import GRAPHQL_TRANSPORT_WS_PROTOCOL
from strawberry.types import ExecutionResult
from strawberry.types.graphql import OperationType
from strawberry.types.unset import UNSET, UnsetType

from cms_graph.adapters.tokens import TokenService
from cms_graph.bootstrap import Container, build_container
from cms_graph.domain.errors import Unauthenticated
from cms_graph.graphql.context import Context, authenticate_connection, build_context
from cms_graph.graphql.schema import build_schema
from cms_graph.health.broker import BrokerProbe
from cms_graph.health.readiness import readiness
from cms_graph.metrics import Metrics
from cms_graph.request_middleware import RequestContextMiddleware
from cms_graph.settings import Settings
from cms_graph.workers.process import WorkerHandle, connect_broker, start_workers

logger = logging.getLogger(__name__)


GRAPHQL_RESPONSE_JSON = "application/graphql-response+json"
APPLICATION_JSON = "application/json"
# Match levels of an Accept header's media range against a media type, best first.
_EXACT, _SUBTYPE_WILDCARD, _FULL_WILDCARD, _NO_MATCH = 3, 2, 1, 0


def _accepted(accept: str, media_type: str) -> tuple[int, float]:
    """Return the match level of the best Accept range for ``media_type`` and its q-value."""
    main_type = media_type.split("/", 1)[0]
    best = (_NO_MATCH, 0.0)
    for media_range in accept.split(","):
        name, *parameters = (part.strip() for part in media_range.split(";"))
        name = name.lower()
        if name == media_type:
            match = _EXACT
        elif name == f"{main_type}/*":
            match = _SUBTYPE_WILDCARD
        elif name == "*/*":
            match = _FULL_WILDCARD
        else:
            continue
        quality = 1.0
        for parameter in parameters:
            key, _, value = parameter.partition("=")
            if key.strip().lower() == "q":
                try:
                    quality = float(value)
                except ValueError:
                    quality = 0.0
        if match > best[0]:
            best = (match, quality)
    return best


def response_media_type(accept: str | None) -> str:
    """Choose the media type of a GraphQL response from the request's Accept header.

    It returns application/graphql-response+json when the header names it explicitly with
    a q-value above 0 and at least that of application/json. Otherwise it returns
    application/json, also for ``*/*``, so legacy clients keep getting status 200 for
    request errors. A header that accepts neither type also gets application/json,
    because the GraphQL-over-HTTP specification allows ignoring such a header instead of
    responding with 406.

    NOTE: for a missing header the specification advises application/graphql-response+json
    from 2025 on, but graphql-http 1.23.1 (audit 80D8) expects application/json. This
    function follows the audit.
    """
    if not accept:
        return APPLICATION_JSON
    match, quality = _accepted(accept, GRAPHQL_RESPONSE_JSON)
    if match == _EXACT and quality > 0 and quality >= _accepted(accept, APPLICATION_JSON)[1]:
        return GRAPHQL_RESPONSE_JSON
    return APPLICATION_JSON


def is_request_error(result: ExecutionResult) -> bool:
    """Return True when the request failed before execution started.

    Parse, validation and variable coercion errors carry no path, while a field error
    always has one, even when it made the whole ``data`` null.
    """
    return (
        result.data is None
        and bool(result.errors)
        and all(error.path is None for error in result.errors or ())
    )


class GraphQLApp(GraphQL[Context, None]):
    """Strawberry's ASGI app with the GraphQL-over-HTTP rules that it lacks.

    A client that accepts application/graphql-response+json gets that content type, and
    a request error (no ``data`` entry) gets status 400, or 500 for an internal error.
    A mutation sent with GET gets 405 with ``Allow: POST``. Responses served as
    application/json keep status 200 for request errors, as the specification advises.
    """

    def __init__(self, container: Container, tokens: TokenService, **options: Any) -> None:
        super().__init__(build_schema(production=container.settings.is_production), **options)
        self.container = container
        self.tokens = tokens

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await super().__call__(scope, receive, send)
            return
        # Strawberry's own HTTP branch, plus the Allow header that must come with a 405.
        request = Request(scope=scope, receive=receive)
        try:
            response = await self.run(request)
        except HTTPException as error:
            headers = {"Allow": "POST"} if error.status_code == 405 else None
            response = PlainTextResponse(
                error.reason, status_code=error.status_code, headers=headers
            )
        await response(scope, receive, send)

    async def get_context(
        self, request: Request | WebSocket, response: Response | WebSocket
    ) -> Context:
        connection: HTTPConnection = request
        return build_context(
            self.container, self.tokens, connection, connection.headers.get("authorization")
        )

    async def on_ws_connect(self, context: Context) -> UnsetType | dict[str, object] | None:
        """Authenticate a WebSocket at connection_init, from its payload or header.

        An invalid token closes the connection with 4403, as graphql-transport-ws does
        for a rejected connection; without a token the caller is anonymous.
        """
        try:
            authenticate_connection(context, self.tokens)
        except Unauthenticated as error:
            # graphql-transport-ws has no message for a rejection: only the close code.
            logger.info("WebSocket connection rejected: %s", error.message)
            raise ConnectionRejectionError() from None
        # Strawberry sends a plain connection_ack for UNSET, whose declared type is Any.
        acknowledgement: UnsetType = UNSET
        return acknowledgement

    async def get_sub_response(self, request: Request | WebSocket) -> Response:
        """Return the response template, with the media type the client accepts."""
        sub_response = await super().get_sub_response(request)
        sub_response.media_type = response_media_type(request.headers.get("accept"))
        return sub_response

    async def execute_single(
        self,
        request: Request,
        request_adapter: AsyncHTTPRequestAdapter,
        sub_response: Response,
        context: Context,
        root_value: None,
        request_data: GraphQLRequestData,
    ) -> ExecutionResult:
        try:
            return await super().execute_single(
                request, request_adapter, sub_response, context, root_value, request_data
            )
        except HTTPException as error:
            # Strawberry rejects a mutation over GET with 400, but the GraphQL-over-HTTP
            # specification requires 405 (Method Not Allowed).
            cause = error.__cause__
            if (
                request_adapter.method == "GET"
                and isinstance(cause, InvalidOperationTypeError)
                and cause.operation_type is OperationType.MUTATION
            ):
                raise HTTPException(405, error.reason) from cause
            raise

    async def process_result(
        self, request: Request, result: ExecutionResult
    ) -> GraphQLHTTPResponse:
        response_data = await super().process_result(request, result)
        accepted = response_media_type(request.headers.get("accept"))
        if accepted == GRAPHQL_RESPONSE_JSON and is_request_error(result):
            # No execution happened, so the response has no data entry at all.
            response_data.pop("data", None)
        return response_data

    def create_response(
        self,
        response_data: GraphQLHTTPResponse | list[GraphQLHTTPResponse],
        sub_response: Response,
    ) -> Response:
        response = super().create_response(response_data, sub_response)
        if sub_response.media_type != GRAPHQL_RESPONSE_JSON or isinstance(response_data, list):
            return response
        response.headers["content-type"] = f"{GRAPHQL_RESPONSE_JSON}; charset=utf-8"
        if "data" not in response_data:
            codes = {
                (error.get("extensions") or {}).get("code")
                for error in response_data.get("errors") or ()
                if isinstance(error, dict)
            }
            response.status_code = 500 if "INTERNAL_SERVER_ERROR" in codes else 400
        return response


def create_app(
    settings: Settings,
    *,
    container: Container | None = None,
    run_workers: bool | None = None,
    broker: dramatiq.Broker | None = None,
) -> Starlette:
    """Build the app. With no broker URL the workers run in this process.

    ``container`` and ``broker`` let tests pass ones they built; ``run_workers``
    overrides the default.
    """
    state: dict[str, Any] = {}
    container = container or build_container(settings)
    broker_probe = BrokerProbe(lambda: state.get("broker"), settings.probe_timeout_seconds)
    metrics = Metrics(container, broker_probe)
    tokens = TokenService(
        settings.signing_secret(), issuer=settings.jwt_issuer, units=container.units
    )
    graphql = GraphQLApp(
        container,
        tokens,
        graphql_ide="graphiql" if not settings.is_production else None,
        allow_queries_via_get=True,
        # The legacy graphql-ws protocol stays off: the contract names only this one.
        subscription_protocols=(GRAPHQL_TRANSPORT_WS_PROTOCOL,),
    )

    @contextlib.asynccontextmanager
    async def lifespan(_app: Starlette) -> AsyncIterator[None]:
        connected = connect_broker(container, broker)
        in_process = settings.broker_url is None if run_workers is None else run_workers
        handle: WorkerHandle | None = None
        if in_process:
            handle = start_workers(container, connected)
        state["broker"] = connected
        try:
            yield
        finally:
            broker_probe.close()
            await container.event_feed.stop()
            if handle is not None:
                handle.stop()
            else:
                connected.close()
            container.close()

    async def healthz(_request: Request) -> JSONResponse:
        return JSONResponse({"status": "ok"})

    async def readyz(_request: Request) -> JSONResponse:
        report = await run_in_threadpool(readiness, container, broker_probe)
        return JSONResponse(report, status_code=200 if report["ready"] else 503)

    routes = [
        Route("/healthz", healthz),
        Route("/readyz", readyz),
        Route("/metrics", metrics.endpoint),
        Route("/graphql", graphql, methods=["GET", "POST"]),
        WebSocketRoute("/graphql", graphql),
    ]
    return Starlette(
        routes=routes,
        middleware=[Middleware(RequestContextMiddleware, routes=routes, metrics=metrics)],
        lifespan=lifespan,
    )


__all__ = ["create_app", "is_request_error", "response_media_type"]
