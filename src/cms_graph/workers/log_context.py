"""Dramatiq middleware that puts each message's ids into the log context of its worker.

While a worker thread processes a message, every log record it writes carries the
message's ``message_id`` and, when the sender set one, the ``correlation_id`` from the
message options: the id of the request whose event led to the message. Both are bound
with ``structlog.contextvars``, which ``logging_setup`` renders into each line, and both
are unbound once the message is done, whether it succeeded, failed, will be retried or
was skipped.
"""

from __future__ import annotations

from contextvars import ContextVar
from typing import Any

import dramatiq
import structlog
from dramatiq.middleware import Middleware

# The message option that carries the correlation id, set through send_with_options.
CORRELATION_ID_OPTION = "correlation_id"
LOG_CONTEXT_KEYS = ("message_id", "correlation_id")

_message_correlation_id: ContextVar[str | None] = ContextVar("message_correlation_id", default=None)


def message_correlation_id() -> str | None:
    """Return the correlation id of the message this worker thread is processing, or
    None outside a message or for a message sent without one."""
    return _message_correlation_id.get()


def correlation_options(correlation_id: str | None) -> dict[str, Any]:
    """Return the ``send_with_options`` keyword arguments that carry ``correlation_id``,
    or no arguments when it is None, so that the message gets no such option."""
    if correlation_id is None:
        return {}
    return {CORRELATION_ID_OPTION: correlation_id}


class MessageLogContext(Middleware):
    """Middleware that binds ``message_id`` and ``correlation_id`` to the log context while
    a worker thread processes a message."""

    def before_process_message(self, broker: dramatiq.Broker, message: Any) -> None:
        correlation_id = message.options.get(CORRELATION_ID_OPTION)
        if not isinstance(correlation_id, str):
            correlation_id = None
        _message_correlation_id.set(correlation_id)
        structlog.contextvars.bind_contextvars(message_id=message.message_id)
        if correlation_id is None:
            # The thread may still hold the id of an earlier message whose after hook
            # did not run, and this message must not log under it.
            structlog.contextvars.unbind_contextvars("correlation_id")
        else:
            structlog.contextvars.bind_contextvars(correlation_id=correlation_id)

    def after_process_message(
        self,
        broker: dramatiq.Broker,
        message: Any,
        *,
        result: Any | None = None,
        exception: BaseException | None = None,
    ) -> None:
        self._unbind()

    def after_skip_message(self, broker: dramatiq.Broker, message: Any) -> None:
        self._unbind()

    @staticmethod
    def _unbind() -> None:
        _message_correlation_id.set(None)
        structlog.contextvars.unbind_contextvars(*LOG_CONTEXT_KEYS)


def add_log_context(broker: dramatiq.Broker) -> None:
    """Add ``MessageLogContext`` to ``broker`` once, ahead of every other middleware.

    Dramatiq runs ``after_`` hooks in reverse order, so the first middleware unbinds last.
    The lines that the other middleware write after a message, such as the Retries
    middleware's "Retrying message", then still carry the ids.
    """
    if any(isinstance(middleware, MessageLogContext) for middleware in broker.middleware):
        return
    if broker.middleware:
        broker.add_middleware(MessageLogContext(), before=type(broker.middleware[0]))
    else:
        broker.add_middleware(MessageLogContext())


__all__ = [
    "CORRELATION_ID_OPTION",
    "MessageLogContext",
    "add_log_context",
    "correlation_options",
    "message_correlation_id",
]
