"""Fixtures that run the real app over HTTP.

``server`` starts the app from ``create_app`` with uvicorn on 127.0.0.1 and a free port,
once on SQLite and once on PostgreSQL (through ``store_settings``), with its lifespan and
in-process workers. ``graphql`` posts GraphQL requests to it, and ``tokens`` signs staff
tokens with the secret the server verifies.
"""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import httpx
import pytest
import uvicorn

from cms_graph.adapters.tokens import TokenService
from cms_graph.adapters.unit_files import load_hierarchy
from cms_graph.domain.values import Role
from cms_graph.settings import Settings
from cms_graph.web import create_app
from tests.conftest import TEST_SECRET

STARTUP_TIMEOUT_SECONDS = 30.0
SHUTDOWN_TIMEOUT_SECONDS = 30.0
GRAPHQL_RESPONSE_MEDIA_TYPE = "application/graphql-response+json"


@dataclass(frozen=True)
class RunningServer:
    """A server started by the ``server`` fixture, with the settings it runs on."""

    base_url: str
    settings: Settings

    @property
    def graphql_url(self) -> str:
        return self.base_url + "/graphql"


def _bind_free_port() -> socket.socket:
    """Return a socket bound to a free port on 127.0.0.1, so no other process can take it."""
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    listener.bind(("127.0.0.1", 0))
    return listener


@pytest.fixture
def server(store_settings: Settings) -> Iterator[RunningServer]:
    """Serve the app on a fresh store until the test ends.

    uvicorn runs in a background thread. It installs no signal handlers there, and stops
    when ``should_exit`` is set, running the app's lifespan shutdown (workers, store).
    """
    app = create_app(store_settings)
    listener = _bind_free_port()
    port = listener.getsockname()[1]
    config = uvicorn.Config(app, lifespan="on", log_level="warning", access_log=False)
    uvicorn_server = uvicorn.Server(config)
    thread = threading.Thread(
        target=uvicorn_server.run, kwargs={"sockets": [listener]}, name="e2e-uvicorn", daemon=True
    )
    thread.start()

    # Wait for the server to listen. This waits for start-up only, never for projections.
    deadline = time.monotonic() + STARTUP_TIMEOUT_SECONDS
    while not uvicorn_server.started:
        if not thread.is_alive():
            listener.close()
            pytest.fail("uvicorn stopped during start-up; see the log above", pytrace=False)
        if time.monotonic() > deadline:
            uvicorn_server.should_exit = True
            thread.join(SHUTDOWN_TIMEOUT_SECONDS)
            listener.close()
            pytest.fail(f"uvicorn did not start within {STARTUP_TIMEOUT_SECONDS} s", pytrace=False)
        time.sleep(0.01)

    yield RunningServer(base_url=f"http://127.0.0.1:{port}", settings=store_settings)

    uvicorn_server.should_exit = True
    thread.join(SHUTDOWN_TIMEOUT_SECONDS)
    listener.close()
    if thread.is_alive():
        pytest.fail(f"uvicorn did not stop within {SHUTDOWN_TIMEOUT_SECONDS} s", pytrace=False)


class GraphQLClient:
    """Post GraphQL requests to a running server, with an optional bearer token."""

    def __init__(self, http: httpx.Client, url: str) -> None:
        self.http = http
        self.url = url

    def post(
        self,
        query: str,
        variables: dict[str, Any] | None = None,
        *,
        token: str | None = None,
        headers: dict[str, str] | None = None,
    ) -> httpx.Response:
        """Send the request as JSON and return the raw response."""
        request_headers = {"Accept": "application/json"}
        if token is not None:
            request_headers["Authorization"] = f"Bearer {token}"
        request_headers |= headers or {}
        body: dict[str, Any] = {"query": query}
        if variables is not None:
            body["variables"] = variables
        return self.http.post(self.url, json=body, headers=request_headers)

    def execute(
        self, query: str, variables: dict[str, Any] | None = None, *, token: str | None = None
    ) -> dict[str, Any]:
        """Send the request and return the decoded response body, which may contain errors."""
        response = self.post(query, variables, token=token)
        assert response.status_code == 200, response.text
        body: dict[str, Any] = response.json()
        return body

    def data(
        self, query: str, variables: dict[str, Any] | None = None, *, token: str | None = None
    ) -> dict[str, Any]:
        """Send the request and return ``data``; fail the test if the response has errors."""
        body = self.execute(query, variables, token=token)
        assert "errors" not in body, body["errors"]
        data: dict[str, Any] = body["data"]
        return data


@pytest.fixture
def http_client(server: RunningServer) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=server.base_url, timeout=30.0) as client:
        yield client


@pytest.fixture
def graphql(server: RunningServer, http_client: httpx.Client) -> GraphQLClient:
    return GraphQLClient(http_client, server.graphql_url)


class TokenMaker:
    """Sign staff tokens that the server accepts, for units of the demo hierarchy."""

    def __init__(self, issuer: str) -> None:
        self.service = TokenService(TEST_SECRET, issuer=issuer, units=load_hierarchy(None))

    def __call__(
        self,
        role: Role,
        unit_id: str,
        *,
        subject: str | None = None,
        lifetime: timedelta = timedelta(hours=1),
    ) -> str:
        """Return a token for ``role`` at ``unit_id``; the subject defaults to both joined."""
        return self.service.issue(
            subject=subject or f"{role.value.lower()}-{unit_id}",
            role=role,
            unit_id=unit_id,
            lifetime=lifetime,
        )


@pytest.fixture
def tokens(server: RunningServer) -> TokenMaker:
    return TokenMaker(server.settings.jwt_issuer)
