"""The container the actors of this process use. One per process."""

from __future__ import annotations

import threading

from cms_graph.bootstrap import Container

_container: Container | None = None
_lock = threading.Lock()


def use_container(container: Container | None) -> None:
    global _container
    with _lock:
        _container = container


def current_container() -> Container:
    container = _container
    if container is None:
        raise RuntimeError(
            "no container installed in this process: call use_container() at start-up"
        )
    return container
