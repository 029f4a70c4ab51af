"""The log format setting, the JSON log lines and the GraphQL operation labels."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator
from pathlib import Path

import pytest
import structlog
from graphql import parse

from cms_graph.graphql.operation_names import operation_name_of
from cms_graph.logging_setup import configure_logging
from cms_graph.metrics import OTHER_OPERATION, UNKNOWN_OPERATION, OperationLabels
from cms_graph.settings import LogFormat, SettingsError, load_settings

PRODUCTION = {
    "env": "production",
    "database_url": "postgresql://db/cms",
    "jwt_secret": "j" * 32,
    "audit_key": "a" * 32,
    "integration_key": "i" * 32,
    "lookup_key": "l" * 32,
    "sms_gateway_url": "https://sms.example.org/send",
}


@pytest.fixture
def no_log_format_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("CMS_LOG_FORMAT", raising=False)
    monkeypatch.delenv("CMS_ENV", raising=False)


@pytest.mark.usefixtures("no_log_format_variable")
def test_log_format_development_default(tmp_path: Path) -> None:
    settings = load_settings(_env_file=None, data_dir=tmp_path)
    assert settings.resolved_log_format is LogFormat.CONSOLE


@pytest.mark.usefixtures("no_log_format_variable")
def test_log_format_production_default(tmp_path: Path) -> None:
    settings = load_settings(_env_file=None, data_dir=tmp_path, **PRODUCTION)
    assert settings.resolved_log_format is LogFormat.JSON


@pytest.mark.usefixtures("no_log_format_variable")
def test_log_format_variable_wins(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("CMS_LOG_FORMAT", "JSON")
    settings = load_settings(_env_file=None, data_dir=tmp_path)
    assert settings.resolved_log_format is LogFormat.JSON


@pytest.mark.usefixtures("no_log_format_variable")
def test_log_format_invalid(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CMS_LOG_FORMAT", "xml")
    with pytest.raises(SettingsError) as raised:
        load_settings(_env_file=None)
    assert "CMS_LOG_FORMAT: Input should be 'json' or 'console'" in str(raised.value)


@pytest.fixture
def restored_logging() -> Iterator[None]:
    """Put the root logger and structlog back as they were after the test configures them."""
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    yield
    for handler in list(root.handlers):
        root.removeHandler(handler)
    for handler in handlers:
        root.addHandler(handler)
    root.setLevel(level)
    structlog.reset_defaults()


@pytest.mark.usefixtures("restored_logging")
def test_json_line_fields() -> None:
    stream = io.StringIO()
    configure_logging("INFO", LogFormat.JSON, stream)

    with structlog.contextvars.bound_contextvars(request_id="r1", correlation_id="c1"):
        logging.getLogger("cms_graph.test").info("lodged %s", "LHR-1", extra={"status": 200})
    logging.getLogger("cms_graph.test").debug("below the level")

    lines = stream.getvalue().splitlines()
    record = json.loads(lines[0])
    assert len(lines) == 1
    assert record["event"] == "lodged LHR-1"
    assert record["level"] == "info"
    assert record["logger"] == "cms_graph.test"
    assert record["timestamp"].endswith("Z")
    assert record["request_id"] == "r1"
    assert record["correlation_id"] == "c1"
    assert record["status"] == 200


@pytest.mark.usefixtures("restored_logging")
def test_json_line_drops_repeats() -> None:
    stream = io.StringIO()
    configure_logging("INFO", LogFormat.JSON, stream)
    plain = logging.Formatter("%(asctime)s %(message)s")
    record = logging.getLogger("uvicorn.error").makeRecord(
        "uvicorn.error",
        logging.INFO,
        __file__,
        1,
        "Started server process [%d]",
        (7,),
        None,
        extra={"color_message": "Started server process [\x1b[36m%d\x1b[0m]"},
    )
    plain.format(record)  # another handler formatted it first, adding message and asctime

    logging.getLogger("uvicorn.error").handle(record)

    line = json.loads(stream.getvalue())
    assert line["event"] == "Started server process [7]"
    assert "color_message" not in line
    assert "message" not in line
    assert "asctime" not in line


@pytest.mark.usefixtures("restored_logging")
def test_httpx_request_urls_not_logged() -> None:
    stream = io.StringIO()
    configure_logging("INFO", LogFormat.JSON, stream)

    logging.getLogger("httpx").info("HTTP Request: POST https://sms.example.org/send?key=secret")

    assert stream.getvalue() == ""


@pytest.mark.usefixtures("restored_logging")
def test_json_line_has_traceback() -> None:
    stream = io.StringIO()
    configure_logging("INFO", LogFormat.JSON, stream)

    try:
        raise ValueError("broken projection")
    except ValueError:
        logging.getLogger("cms_graph.test").exception("catch-up failed")

    record = json.loads(stream.getvalue())
    assert record["event"] == "catch-up failed"
    assert "ValueError: broken projection" in record["exception"]


@pytest.mark.usefixtures("restored_logging")
def test_structlog_logger_same_handler() -> None:
    stream = io.StringIO()
    configure_logging("INFO", LogFormat.JSON, stream)

    structlog.get_logger("cms_graph.test").info("sweep done", escalated=2)

    record = json.loads(stream.getvalue())
    assert record["event"] == "sweep done"
    assert record["escalated"] == 2
    assert record["logger"] == "cms_graph.test"


@pytest.mark.usefixtures("restored_logging")
def test_console_line_not_json() -> None:
    stream = io.StringIO()
    configure_logging("INFO", LogFormat.CONSOLE, stream)

    logging.getLogger("cms_graph.test").warning("broker unreachable")

    output = stream.getvalue()
    assert "broker unreachable" in output
    assert not output.lstrip().startswith("{")


@pytest.mark.usefixtures("restored_logging")
def test_configure_replaces_handlers() -> None:
    first, second = io.StringIO(), io.StringIO()
    configure_logging("INFO", LogFormat.JSON, first)
    configure_logging("INFO", LogFormat.JSON, second)

    logging.getLogger("cms_graph.test").info("once")

    assert first.getvalue() == ""
    assert json.loads(second.getvalue())["event"] == "once"


def test_labels_unknown_for_none() -> None:
    assert OperationLabels().label(None) == UNKNOWN_OPERATION


def test_labels_capped() -> None:
    labels = OperationLabels(limit=2)
    assert labels.label("First") == "First"
    assert labels.label("Second") == "Second"
    assert labels.label("Third") == OTHER_OPERATION
    assert labels.label("First") == "First"


def test_labels_long_name_is_other() -> None:
    assert OperationLabels().label("A" * 101) == OTHER_OPERATION


def test_operation_named() -> None:
    document = parse("query Mine { complaints { totalCount } }")
    assert operation_name_of(document, None, valid=True) == "Mine"


def test_operation_unnamed_first_field() -> None:
    document = parse('{ trackComplaint(trackingNumber: "x", phone: "y") { status } node }')
    assert operation_name_of(document, None, valid=True) == "trackComplaint"


def test_operation_unnamed_invalid() -> None:
    document = parse("{ noSuchField }")
    assert operation_name_of(document, None, valid=False) is None


def test_operation_chosen_by_name() -> None:
    document = parse("query A { complaints { totalCount } } mutation B { addNote { x } }")
    assert operation_name_of(document, "B", valid=False) == "B"
    assert operation_name_of(document, "C", valid=False) is None


def test_operation_fragment_first() -> None:
    document = parse("{ ...Fields } fragment Fields on Query { complaints { totalCount } }")
    assert operation_name_of(document, None, valid=True) is None


def test_operation_without_document() -> None:
    assert operation_name_of(None, "Mine", valid=False) is None
