"""Per-request context: the container, the caller and request-scoped data loaders."""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass, field
from typing import Any
from uuid import UUID

from starlette.concurrency import run_in_threadpool
from starlette.requests import HTTPConnection
from strawberry.dataloader import DataLoader
from strawberry.types import Info as StrawberryInfo

from cms_graph.adapters.tokens import TokenService
from cms_graph.application.identity import Principal
from cms_graph.application.views import TimelineRecord
from cms_graph.bootstrap import Container
from cms_graph.domain.errors import DomainError, Unauthenticated


@dataclass
class Context:
    container: Container
    request: HTTPConnection | None
    _principal: Principal | None = None
    _auth_error: DomainError | None = None
    loaders: dict[str, DataLoader[Any, Any]] = field(default_factory=dict)
    # The graphql-transport-ws connection_init payload; strawberry sets it on WebSockets.
    connection_params: dict[str, Any] | None = None

    @property
    def principal(self) -> Principal:
        """The caller; raises Unauthenticated when the request carried an invalid token."""
        if self._auth_error is not None:
            raise self._auth_error
        return self._principal or Principal.anonymous()

    @property
    def principal_or_anonymous(self) -> Principal:
        """The caller for public operations, which ignore a bad token."""
        return self._principal or Principal.anonymous()

    def timeline_loader(self, include_internal: bool) -> DataLoader[UUID, list[TimelineRecord]]:
        key = f"timeline:{include_internal}"
        if key not in self.loaders:
            queries = self.container.queries

            async def load(ids: list[UUID]) -> list[list[TimelineRecord]]:
                found = await run_in_threadpool(
                    queries.timelines, list(ids), include_internal=include_internal
                )
                return [found[complaint_id] for complaint_id in ids]

            self.loaders[key] = DataLoader(load_fn=load)
        return self.loaders[key]


def authorization_in(params: dict[str, Any] | None) -> str | None:
    """Return the Authorization entry of a connection_init payload, matched in any case."""
    for key, value in (params or {}).items():
        if key.lower() == "authorization" and isinstance(value, str):
            return value
    return None


def principal_from_header(authorization: str | None, tokens: TokenService) -> Principal:
    if not authorization:
        return Principal.anonymous()
    scheme, _, token = authorization.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise Unauthenticated("the Authorization header must be 'Bearer <token>'")
    return tokens.verify(token.strip())


# Pattern of the X-Correlation-ID values kept as they are. Any other value is replaced by
# a new id.
# "/" is accepted because some upstream trace ids contain it, such as the TRACE_ID/SPAN_ID
# of Google Cloud's X-Cloud-Trace-Context. The id is only stored, logged and sent back,
# never used as a path or parsed.
CORRELATION_ID_FORMAT = r"[A-Za-z0-9._:/-]{1,100}"
_CORRELATION_ID = re.compile(CORRELATION_ID_FORMAT)


def is_valid_correlation_id(value: str) -> bool:
    return _CORRELATION_ID.fullmatch(value) is not None


def new_correlation_id() -> str:
    return uuid.uuid4().hex


def correlation_id_of(request: HTTPConnection | None) -> str:
    """Return the id that the request middleware chose for this request. Without the
    middleware, return the caller's X-Correlation-ID if well formed, else a new one."""
    if request is not None:
        chosen = request.scope.get("state", {}).get("correlation_id")
        if isinstance(chosen, str):
            return chosen
    supplied = request.headers.get("x-correlation-id", "") if request is not None else ""
    return supplied if is_valid_correlation_id(supplied) else new_correlation_id()


def build_context(
    container: Container,
    tokens: TokenService,
    request: HTTPConnection | None,
    authorization: str | None,
) -> Context:
    client_address = request.client.host if request is not None and request.client else None
    correlation_id = correlation_id_of(request)
    try:
        principal = principal_from_header(authorization, tokens)
    except Unauthenticated as error:
        return Context(container, request, _auth_error=error)
    principal = principal.with_request(client_address, correlation_id)
    return Context(container, request, _principal=principal)


def authenticate_connection(context: Context, tokens: TokenService) -> None:
    """Take the caller from the connection_init payload, when it carries a token.

    A token in the payload replaces one sent in the upgrade request's header. Raises
    Unauthenticated when the token in force is invalid.
    """
    authorization = authorization_in(context.connection_params)
    if authorization is not None:
        request = context.request
        rebuilt = build_context(context.container, tokens, request, authorization)
        context._principal, context._auth_error = rebuilt._principal, rebuilt._auth_error
    if context._auth_error is not None:
        raise context._auth_error


Info = StrawberryInfo[Context, None]

__all__ = [
    "Context",
    "Info",
    "authenticate_connection",
    "authorization_in",
    "build_context",
    "principal_from_header",
]
