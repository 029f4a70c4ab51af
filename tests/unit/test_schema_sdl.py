"""The checked-in SDL must match the schema the code builds."""

from __future__ import annotations

from cms_graph.graphql.schema import build_schema, export_sdl, sdl_path


def test_sdl_file_matches_code() -> None:
    checked_in = sdl_path().read_text(encoding="utf-8")
    assert checked_in == export_sdl(), "schema/schema.graphql is stale: run 'cms-graph schema'"


def test_contract_operations_present() -> None:
    schema = build_schema()
    assert schema._schema.mutation_type is not None
    mutations = set(schema._schema.mutation_type.fields)
    queries = set(schema._schema.query_type.fields)
    assert {
        "lodgeComplaint",
        "acknowledgeComplaint",
        "assignComplaint",
        "addNote",
        "escalateComplaint",
        "resolveComplaint",
        "recordFeedback",
        "reopenComplaint",
        "closeComplaint",
        "withdrawComplaint",
    } <= mutations
    assert {"complaint", "complaints", "trackComplaint", "node"} <= queries


def test_production_disables_introspection() -> None:
    result = build_schema(production=True).execute_sync("{ __schema { queryType { name } } }")
    assert result.errors is not None
