"""GraphQL errors carry the contract's extensions.code."""

from __future__ import annotations

from cms_graph.graphql.schema import MAX_QUERY_TOKENS, build_schema


def codes(query: str) -> list[str]:
    result = build_schema().execute_sync(query)
    assert result.errors is not None
    return [error.extensions["code"] for error in result.errors if error.extensions]


def test_unknown_field_is_bad_input() -> None:
    assert codes("{ nothingHere }") == ["BAD_USER_INPUT"]


def test_too_many_tokens_too_complex() -> None:
    aliases = " ".join(f"a{index}: __typename" for index in range(MAX_QUERY_TOKENS))
    assert codes("{ " + aliases + " }") == ["QUERY_TOO_COMPLEX"]


def test_deep_introspection_too_complex() -> None:
    inner = "name"
    for _ in range(6):
        inner = f"fields {{ type {{ {inner} }} }}"
    assert codes("{ __schema { types { " + inner + " } } }") == ["QUERY_TOO_COMPLEX"]
