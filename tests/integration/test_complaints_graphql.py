"""The complaints query through the schema: what it counts and which cursors it returns."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from cms_graph.application.identity import Principal
from cms_graph.application.queries import ComplaintFilter, encode_cursor
from cms_graph.bootstrap import Container
from cms_graph.graphql.context import Context
from cms_graph.graphql.schema import build_schema
from tests.factories import LAHORE_DPO, lodge_command
from tests.recording_database import RecordingDatabase

COMPLAINTS = 5


@pytest.fixture
def recorded(container: Container) -> RecordingDatabase:
    for _ in range(COMPLAINTS):
        container.complaints.lodge(Principal.anonymous(), lodge_command())
    container.catch_up_all()
    recording = RecordingDatabase(container.queries.database)
    container.queries.database = recording  # type: ignore[assignment]  # same read() contract
    return recording


def run(container: Container, query: str, variables: dict[str, Any] | None = None) -> Any:
    context = Context(container, None, _principal=LAHORE_DPO)
    result = asyncio.run(
        build_schema().execute(query, variable_values=variables, context_value=context)
    )
    assert result.errors is None, result.errors
    return result.data


def test_page_without_total_skips_count(container: Container, recorded: RecordingDatabase) -> None:
    data = run(container, "{ complaints(first: 2) { edges { node { id } } } }")

    assert len(data["complaints"]["edges"]) == 2
    assert recorded.statements
    assert recorded.count_star_statements() == 0


@pytest.mark.parametrize(
    ("query", "key"),
    [
        ("{ complaints(first: 2) { totalCount edges { node { id } } } }", "totalCount"),
        ("{ complaints(first: 2) { total: totalCount } }", "total"),
        ("{ complaints(first: 2) { ... on ComplaintConnection { totalCount } } }", "totalCount"),
        (
            "{ complaints(first: 2) { ...Total } }"
            " fragment Total on ComplaintConnection { totalCount }",
            "totalCount",
        ),
    ],
    ids=["field", "alias", "inline fragment", "fragment spread"],
)
def test_selected_total_is_counted(
    container: Container, recorded: RecordingDatabase, query: str, key: str
) -> None:
    connection = run(container, query)["complaints"]

    assert connection[key] == COMPLAINTS
    assert recorded.count_star_statements() == 1


def test_total_under_skip_still_counted(container: Container, recorded: RecordingDatabase) -> None:
    query = "query($skip: Boolean!) { complaints(first: 1) { totalCount @skip(if: $skip) } }"

    assert run(container, query, {"skip": False})["complaints"]["totalCount"] == COMPLAINTS
    assert run(container, query, {"skip": True})["complaints"] == {}
    assert recorded.count_star_statements() == 2


def test_edge_cursors_match_records(container: Container, recorded: RecordingDatabase) -> None:
    query = """
    query($after: String) {
      complaints(first: 3, after: $after) {
        edges { cursor node { id } }
        pageInfo { startCursor endCursor hasNextPage }
      }
    }
    """
    records = container.queries.page(LAHORE_DPO, ComplaintFilter(), first=COMPLAINTS).records

    first = run(container, query)["complaints"]
    second = run(container, query, {"after": first["pageInfo"]["endCursor"]})["complaints"]

    cursors = [edge["cursor"] for edge in first["edges"] + second["edges"]]
    assert cursors == [encode_cursor(record) for record in records]
    assert first["pageInfo"]["startCursor"] == cursors[0]
    assert first["pageInfo"]["endCursor"] == cursors[2]
    assert first["pageInfo"]["hasNextPage"] is True
    assert second["pageInfo"]["startCursor"] == cursors[3]
    assert second["pageInfo"]["endCursor"] == cursors[4]
    assert second["pageInfo"]["hasNextPage"] is False


def test_empty_page_has_no_cursors(container: Container, recorded: RecordingDatabase) -> None:
    query = "{ complaints(first: 0) { edges { cursor } pageInfo { startCursor endCursor } } }"

    connection = run(container, query)["complaints"]

    assert connection["edges"] == []
    assert connection["pageInfo"] == {"startCursor": None, "endCursor": None}


def test_page_count_total_false(container: Container, recorded: RecordingDatabase) -> None:
    page = container.queries.page(LAHORE_DPO, ComplaintFilter(), first=2, count_total=False)

    assert len(page.records) == 2
    assert page.total_count is None
    assert recorded.count_star_statements() == 0
