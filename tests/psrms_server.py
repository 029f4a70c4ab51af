"""Serve the PSRMS stand-in over HTTP on a free 127.0.0.1 port, for tests."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import uvicorn

from cms_graph.adapters.psrms_standin import PsrmsStandin, create_standin_app

STARTUP_TIMEOUT_SECONDS = 30.0
SHUTDOWN_TIMEOUT_SECONDS = 30.0


@dataclass(frozen=True)
class RunningStandin:
    url: str
    standin: PsrmsStandin


@contextmanager
def running_standin() -> Iterator[RunningStandin]:
    """Run a fresh stand-in in a background thread until the block ends."""
    standin = PsrmsStandin()
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    listener.bind(("127.0.0.1", 0))
    port = listener.getsockname()[1]
    config = uvicorn.Config(
        create_standin_app(standin), lifespan="off", log_level="warning", access_log=False
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(
        target=server.run, kwargs={"sockets": [listener]}, name="psrms-standin", daemon=True
    )
    thread.start()
    deadline = time.monotonic() + STARTUP_TIMEOUT_SECONDS
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            server.should_exit = True
            listener.close()
            raise RuntimeError("the PSRMS stand-in did not start")
        time.sleep(0.01)
    try:
        yield RunningStandin(f"http://127.0.0.1:{port}", standin)
    finally:
        server.should_exit = True
        thread.join(SHUTDOWN_TIMEOUT_SECONDS)
        listener.close()


def closed_port_url() -> str:
    """Return a 127.0.0.1 URL on which nothing listens, so connecting is refused."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    return f"http://127.0.0.1:{port}"
