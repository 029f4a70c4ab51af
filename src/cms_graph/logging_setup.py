"""Structured logs: every record, the project's and the libraries', rendered by structlog.

The project and its libraries log through the standard ``logging`` module. One handler on
the root logger formats each record with structlog's ``ProcessorFormatter``, as one JSON
object per line or as a line for a console. Both carry the timestamp (UTC, ISO 8601), the
level, the logger name, the event (the message) and the context. The context is the fields
passed with ``extra=`` and those bound with ``structlog.contextvars``, such as the
``request_id`` and ``correlation_id`` that the request middleware binds for each request.
"""

from __future__ import annotations

import logging
import sys
from typing import TextIO

import structlog
from structlog.typing import EventDict, Processor

from cms_graph.settings import LogFormat

# Record attributes that ExtraAdder would take for context but that repeat the event:
# ``message`` and ``asctime``, which ``logging.Formatter.format`` adds when another handler
# formatted the record first, and uvicorn's ``color_message``, the event with terminal
# colour codes.
_REPEATED_ATTRIBUTES = ("message", "asctime", "color_message")


def _drop_repeated_attributes(
    _logger: object, _method_name: str, event_dict: EventDict
) -> EventDict:
    for name in _REPEATED_ATTRIBUTES:
        event_dict.pop(name, None)
    return event_dict


# Applied to every record, from the standard library and from structlog loggers alike.
_SHARED_PROCESSORS: list[Processor] = [
    structlog.contextvars.merge_contextvars,
    structlog.stdlib.add_logger_name,
    structlog.stdlib.add_log_level,
    structlog.stdlib.ExtraAdder(),
    _drop_repeated_attributes,
    structlog.processors.TimeStamper(fmt="iso", utc=True),
]


def build_formatter(log_format: LogFormat) -> structlog.stdlib.ProcessorFormatter:
    """Return a logging formatter that renders records as JSON lines or console lines."""
    renderer: list[Processor]
    if log_format is LogFormat.JSON:
        # The console renderer prints tracebacks itself; JSON needs them as a string field.
        renderer = [structlog.processors.format_exc_info, structlog.processors.JSONRenderer()]
    else:
        renderer = [structlog.dev.ConsoleRenderer()]
    return structlog.stdlib.ProcessorFormatter(
        foreign_pre_chain=_SHARED_PROCESSORS,
        processors=[structlog.stdlib.ProcessorFormatter.remove_processors_meta, *renderer],
    )


def build_handler(log_format: LogFormat, stream: TextIO | None = None) -> logging.Handler:
    """Return a handler that writes formatted records to ``stream`` (default: stderr)."""
    handler = logging.StreamHandler(stream if stream is not None else sys.stderr)
    handler.setFormatter(build_formatter(log_format))
    return handler


def configure_logging(level: str, log_format: LogFormat, stream: TextIO | None = None) -> None:
    """Route all logging of this process through one structlog handler on the root logger.

    Handlers already on the root logger are removed, as ``logging.basicConfig(force=True)``
    does. Loggers from ``structlog.get_logger()`` end in the same handler.
    """
    root = logging.getLogger()
    for handler in list(root.handlers):
        root.removeHandler(handler)
        handler.close()
    root.addHandler(build_handler(log_format, stream))
    root.setLevel(level)

    # A uvicorn started earlier in this process with its own logging config gave its
    # loggers their own handlers and stopped them propagating. Send them to the root.
    for name in ("uvicorn", "uvicorn.error", "uvicorn.access"):
        library_logger = logging.getLogger(name)
        for handler in list(library_logger.handlers):
            library_logger.removeHandler(handler)
        library_logger.propagate = True
        library_logger.disabled = False

    # httpx logs every request's full URL at INFO. Gateway and webhook URLs may carry
    # credentials in their query string, and the senders log each outcome themselves.
    for name in ("httpx", "httpcore"):
        logging.getLogger(name).setLevel(logging.WARNING)

    structlog.configure(
        processors=[
            *_SHARED_PROCESSORS,
            structlog.stdlib.ProcessorFormatter.wrap_for_formatter,
        ],
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.stdlib.BoundLogger,
        cache_logger_on_first_use=True,
    )


__all__ = ["build_formatter", "build_handler", "configure_logging"]
