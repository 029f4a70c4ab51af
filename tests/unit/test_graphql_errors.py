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


LODGE = (
    "mutation($c: ComplainantInput!) { lodgeComplaint(input: {channel: WEB_PORTAL,"
    ' category: BRIBERY, districtId: "pb_lahore", stationId: "pb_lahore-c1-ps1",'
    ' language: EN, description: "x", complainant: $c}) { trackingNumber } }'
)


def variable_error(query: str, variables: dict[str, object]) -> str:
    result = build_schema().execute_sync(query, variable_values=variables)
    assert result.errors is not None
    assert len(result.errors) == 1
    assert result.errors[0].extensions == {"code": "BAD_USER_INPUT"}
    return result.errors[0].message


def test_variable_errors_hide_values() -> None:
    complainant = {"name": "Wajeeha Noorbakhsh", "phone": "0311-9988776", "cnic": "99999-8888877-7"}
    cases = [
        (
            LODGE,
            {"c": complainant | {"bogus": 1}},
            "Variable '$c' has invalid value: Expected value of type 'ComplainantInput'"
            " not to include unknown field 'bogus'.",
        ),
        (
            LODGE,
            {"c": {"name": "Wajeeha Noorbakhsh", "phone": 3119988776}},
            "Variable '$c' has invalid value at .phone: String cannot represent a non string"
            " value.",
        ),
        (
            LODGE,
            {"c": {"phone": "0311-9988776"}},
            "Variable '$c' has invalid value: Expected value of type 'ComplainantInput' to"
            " include required field 'name'.",
        ),
        (
            "query($n: Int) { complaints(first: $n) { totalCount } }",
            {"n": "0311-9988776"},
            "Variable '$n' has invalid value: Int cannot represent non-integer value.",
        ),
    ]
    for query, variables, expected in cases:
        message = variable_error(query, variables)
        assert message == expected
        for secret in ("Wajeeha", "9988776", "8888877"):
            assert secret not in message, message
