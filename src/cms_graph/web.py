"""The ASGI application: GraphQL at /graphql, health and readiness probes."""

from __future__ import annotations

import contextlib
import logging
from collections.abc import AsyncIterator
from typing import Any

from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import HTTPConnection, Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route, WebSocketRoute
from starlette.websockets import WebSocket
from strawberry.asgi import GraphQL

from cms_graph.adapters.tokens import TokenService
from cms_graph.bootstrap import Container, build_container
from cms_graph.graphql.context import Context, build_context
from cms_graph.graphql.schema import build_schema
from cms_graph.settings import Settings
from cms_graph.workers.process import WorkerHandle, connect_broker, start_workers

logger = logging.getLogger(__name__)


class GraphQLApp(GraphQL[Context, None]):
    def __init__(self, container: Container, tokens: TokenService, **options: Any) -> None:
        super().__init__(build_schema(production=container.settings.is_production), **options)
        self.container = container
        self.tokens = tokens

    async def get_context(
        self, request: Request | WebSocket, response: Response | WebSocket
    ) -> Context:
        connection: HTTPConnection = request
        return build_context(
            self.container, self.tokens, connection, connection.headers.get("authorization")
        )


def create_app(
    settings: Settings,
    *,
    container: Container | None = None,
    run_workers: bool | None = None,
) -> Starlette:
    """Build the app. With no broker URL the workers run in this process.

    ``container`` lets tests pass one they built; ``run_workers`` overrides the default.
    """
    state: dict[str, Any] = {}
    container = container or build_container(settings)
    tokens = TokenService(settings.signing_secret(), issuer=settings.jwt_issuer, units=container.units)
    graphql = GraphQLApp(
        container,
        tokens,
        graphql_ide="graphiql" if not settings.is_production else None,
        allow_queries_via_get=True,
    )

    @contextlib.asynccontextmanager
    async def lifespan(_app: Starlette) -> AsyncIterator[None]:
        broker = connect_broker(container)
        in_process = settings.broker_url is None if run_workers is None else run_workers
        handle: WorkerHandle | None = None
        if in_process:
            handle = start_workers(container, broker)
        state["broker"] = broker
        try:
            yield
        finally:
            if handle is not None:
                handle.stop()
            else:
                broker.close()
            container.close()

    async def healthz(_request: Request) -> JSONResponse:
        return JSONResponse({"status": "ok"})

    async def readyz(_request: Request) -> JSONResponse:
        report = await run_in_threadpool(readiness, container, state.get("broker"))
        return JSONResponse(report, status_code=200 if report["ready"] else 503)

    return Starlette(
        routes=[
            Route("/healthz", healthz),
            Route("/readyz", readyz),
            Route("/graphql", graphql, methods=["GET", "POST"]),
            WebSocketRoute("/graphql", graphql),
        ],
        lifespan=lifespan,
    )


def readiness(container: Container, broker: Any) -> dict[str, Any]:
    """Check the event store and broker; report each projection's position and lag."""
    report: dict[str, Any] = {"ready": True, "checks": {}, "projections": {}}
    try:
        head = container.event_store.recorder.max_notification_id() or 0
        report["checks"]["eventStore"] = "ok"
    except Exception as error:  # any failure means not ready; the probe must answer
        logger.warning("readiness: event store unreachable: %s", error)
        report["checks"]["eventStore"] = f"failed: {type(error).__name__}"
        report["ready"] = False
        head = None
    report["checks"]["broker"] = broker_status(broker)
    if report["checks"]["broker"] != "ok":
        report["ready"] = False
    for runner in container.projections:
        try:
            position = runner.position()
        except Exception as error:
            logger.warning("readiness: projection %s unreadable: %s", runner.name, error)
            report["ready"] = False
            continue
        report["projections"][runner.name] = {
            "position": position,
            "lag": None if head is None else max(0, head - position),
        }
    return report


def broker_status(broker: Any) -> str:
    if broker is None:
        return "not started"
    try:
        client = getattr(broker, "client", None)
        if client is not None:
            client.ping()
        elif hasattr(broker, "connection"):
            broker.connection  # noqa: B018  # opening the connection is the check
        return "ok"
    except Exception as error:
        logger.warning("readiness: broker unreachable: %s", error)
        return f"failed: {type(error).__name__}"


__all__ = ["create_app", "readiness"]
