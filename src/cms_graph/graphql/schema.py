"""The GraphQL schema and its SDL export."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import strawberry
from graphql import GraphQLError
from strawberry.extensions import (
    AddValidationRules,
    DisableIntrospection,
    MaxTokensLimiter,
    QueryDepthLimiter,
    ValidationCache,
)
from strawberry.schema.config import StrawberryConfig
from strawberry.tools import merge_types

from cms_graph.graphql.errors import ErrorCodes
from cms_graph.graphql.exports import ExportQuery
from cms_graph.graphql.integrations import IntegrationMutation, IntegrationQuery
from cms_graph.graphql.mutations import Mutation
from cms_graph.graphql.operation_names import OperationNames
from cms_graph.graphql.queries import Query
from cms_graph.graphql.subscriptions import Subscription
from cms_graph.graphql.types import Complaint

MAX_QUERY_DEPTH = 12
MAX_QUERY_TOKENS = 5000
# Distinct query documents whose validation results are kept; frontends send a small set
# of fixed queries. NOTE: strawberry's ParserCache (0.341) would save the parse as well,
# but a parse error raised inside it, such as the token limit, lost its error code.
QUERY_CACHE_SIZE = 256
# The depth rule is built once: a rule built per request is a new class each time, and
# strawberry's ValidationCache (0.341) could then never find a cached result.
_DEPTH_RULE = QueryDepthLimiter(max_depth=MAX_QUERY_DEPTH).validation_rules[0]


class Schema(strawberry.Schema):
    def process_errors(self, errors: list[GraphQLError], execution_context: Any = None) -> None:
        """Log nothing here: ErrorCodes logs unexpected errors once, and the rest are the
        caller's (a rejected transition is not a server error)."""


def build_schema(*, production: bool = False) -> strawberry.Schema:
    extensions: list[object] = [
        ErrorCodes,
        OperationNames,
        lambda: MaxTokensLimiter(max_token_count=MAX_QUERY_TOKENS),
        lambda: AddValidationRules([_DEPTH_RULE]),
        lambda: ValidationCache(maxsize=QUERY_CACHE_SIZE),
    ]
    if production:
        extensions.append(DisableIntrospection)
    return Schema(
        query=merge_types("Query", (Query, IntegrationQuery, ExportQuery)),
        mutation=merge_types("Mutation", (Mutation, IntegrationMutation)),
        subscription=Subscription,
        types=[Complaint],
        extensions=extensions,  # type: ignore[arg-type]  # instances and classes are both accepted
        config=StrawberryConfig(auto_camel_case=True),
    )


def sdl_path() -> Path:
    """Return the checked-in SDL file: packaged in a wheel, or the checkout's ``schema/``."""
    packaged = Path(__file__).resolve().parent / "sdl" / "schema.graphql"
    if packaged.is_file():
        return packaged
    return Path(__file__).resolve().parents[3] / "schema" / "schema.graphql"


def export_sdl() -> str:
    return build_schema().as_str() + "\n"
