"""The message log context middleware: ids bound while a message runs, unbound after."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import dramatiq
import pytest
import structlog
from dramatiq.brokers.stub import StubBroker
from dramatiq.middleware import Retries

from cms_graph.workers.log_context import (
    MessageLogContext,
    add_log_context,
    correlation_options,
    message_correlation_id,
)

QUEUE = "log-context-test"
JOIN_TIMEOUT_MS = 10_000


@pytest.fixture(autouse=True)
def empty_log_context() -> Iterator[None]:
    structlog.contextvars.clear_contextvars()
    yield
    structlog.contextvars.clear_contextvars()


@pytest.fixture
def broker() -> Iterator[StubBroker]:
    stub = StubBroker()
    stub.emit_after("process_boot")
    add_log_context(stub)
    yield stub
    stub.close()


def message(correlation_id: str | None = None) -> dramatiq.Message[Any]:
    return dramatiq.Message(
        queue_name=QUEUE,
        actor_name="record",
        args=(),
        kwargs={},
        options=correlation_options(correlation_id),
    )


def test_hooks_bind_then_unbind_ids(broker: StubBroker) -> None:
    middleware = MessageLogContext()
    sent = message("desk-42")

    middleware.before_process_message(broker, sent)
    during = structlog.contextvars.get_contextvars()
    during_correlation_id = message_correlation_id()
    middleware.after_process_message(broker, sent, exception=RuntimeError("failed"))

    assert during == {"message_id": sent.message_id, "correlation_id": "desk-42"}
    assert during_correlation_id == "desk-42"
    assert structlog.contextvars.get_contextvars() == {}
    assert message_correlation_id() is None


def test_skipped_message_unbinds_ids(broker: StubBroker) -> None:
    middleware = MessageLogContext()
    sent = message("desk-42")

    middleware.before_process_message(broker, sent)
    middleware.after_skip_message(broker, sent)

    assert structlog.contextvars.get_contextvars() == {}
    assert message_correlation_id() is None


def test_message_without_id_drops_stale_one(broker: StubBroker) -> None:
    # As if the previous message's after hook never ran on this thread.
    structlog.contextvars.bind_contextvars(correlation_id="stale", request_id="kept")
    sent = message()

    MessageLogContext().before_process_message(broker, sent)

    assert structlog.contextvars.get_contextvars() == {
        "request_id": "kept",
        "message_id": sent.message_id,
    }
    assert message_correlation_id() is None


def test_correlation_options_empty_for_none() -> None:
    assert correlation_options(None) == {}
    assert correlation_options("desk-42") == {"correlation_id": "desk-42"}


def test_added_once_and_first(broker: StubBroker) -> None:
    add_log_context(broker)

    kinds = [type(middleware) for middleware in broker.middleware]

    assert kinds.count(MessageLogContext) == 1
    assert kinds[0] is MessageLogContext
    assert Retries in kinds


def test_worker_does_not_carry_id_over(broker: StubBroker) -> None:
    seen: list[tuple[str, dict[str, Any], str | None]] = []

    @dramatiq.actor(broker=broker, queue_name=QUEUE, max_retries=0)
    def record(name: str, fail: bool) -> None:
        seen.append((name, structlog.contextvars.get_contextvars(), message_correlation_id()))
        if fail:
            raise RuntimeError(f"{name} failed on purpose")

    # One thread, so each message runs on the thread that ran the one before it.
    worker = dramatiq.Worker(broker, worker_threads=1, worker_timeout=100)
    worker.start()
    try:
        failing = record.send_with_options(args=("failing", True), **correlation_options("a-1"))
        broker.join(QUEUE, timeout=JOIN_TIMEOUT_MS, fail_fast=False)
        plain = record.send("plain", False)
        broker.join(QUEUE, timeout=JOIN_TIMEOUT_MS, fail_fast=False)
        tagged = record.send_with_options(args=("tagged", False), **correlation_options("b-2"))
        broker.join(QUEUE, timeout=JOIN_TIMEOUT_MS, fail_fast=False)
        last = record.send("last", False)
        broker.join(QUEUE, timeout=JOIN_TIMEOUT_MS, fail_fast=False)
    finally:
        worker.stop()

    contexts = {name: (context, correlation_id) for name, context, correlation_id in seen}
    assert contexts["failing"] == (
        {"message_id": failing.message_id, "correlation_id": "a-1"},
        "a-1",
    )
    assert contexts["plain"] == ({"message_id": plain.message_id}, None)
    assert contexts["tagged"] == (
        {"message_id": tagged.message_id, "correlation_id": "b-2"},
        "b-2",
    )
    assert contexts["last"] == ({"message_id": last.message_id}, None)
