"""Stable ``extensions.code`` on every GraphQL error, and no internals in messages."""

from __future__ import annotations

import logging
import re
from collections.abc import Iterator
from typing import Any

from graphql import GraphQLError
from strawberry.extensions import SchemaExtension
from strawberry.types import ExecutionResult

from cms_graph.domain.errors import DomainError

logger = logging.getLogger("cms_graph.graphql")


# The depth and token limits report plain validation or syntax errors. These fragments of
# their messages (strawberry 0.34x, graphql-core 3.3) mark a query as too complex.
_TOO_COMPLEX_MARKERS = (
    "exceeds maximum operation depth",
    "Maximum introspection depth exceeded",
    "tokens. Parsing aborted",
)


# graphql-core's message for a variable that does not fit its type, with the path inside
# the variable when there is one: "Variable '$c' has invalid value at .phone: <reason>".
_VARIABLE_ERROR = re.compile(r"(Variable '\$\w+' has invalid value(?: at [^:]*)?): (.*)", re.DOTALL)


def without_input_values(message: str) -> str:
    """Return a variable error's message without the values it echoes.

    graphql-core quotes the caller's value, such as a whole complainant input with name,
    phone and CNIC ("…, found: {'name': …}") or a scalar ("non-integer value: 'abc'").
    A proxy that logs error responses would then store personal data, so the message
    keeps the variable, the path and the reason, and drops the value.
    """
    match = _VARIABLE_ERROR.fullmatch(message)
    if match is None:
        return message
    prefix, reason = match.groups()
    reason = re.sub(r",? found: .*\Z", "", reason, flags=re.DOTALL)
    reason = re.sub(r"(value): .*\Z", r"\1", reason, flags=re.DOTALL)
    return f"{prefix}: {reason.rstrip('.')}."


class ErrorCodes(SchemaExtension):
    """Give each error a contract code; replace unexpected errors with a generic message."""

    def on_operation(self) -> Iterator[None]:
        yield
        result = self.execution_context.result
        if result is None or not result.errors:
            return
        result.errors = [self._with_code(error) for error in result.errors]

    def on_stream_result(self, result: Any) -> Iterator[None]:
        # Each result of a subscription is sent as it comes, before on_operation ends.
        if isinstance(result, ExecutionResult) and result.errors:
            result.errors = [self._with_code(error) for error in result.errors]
        yield

    @staticmethod
    def _with_code(error: GraphQLError) -> GraphQLError:
        original = error.original_error
        extensions = dict(error.extensions or {})
        if "code" in extensions:
            return error
        if original is None or (isinstance(original, GraphQLError) and error.path is None):
            # Parse, validation and variable coercion errors: the request itself is wrong.
            # graphql-core keeps the scalar's own GraphQLError as the original error of a
            # variable coercion error, so that case has an original error but no path.
            too_complex = any(marker in error.message for marker in _TOO_COMPLEX_MARKERS)
            extensions["code"] = "QUERY_TOO_COMPLEX" if too_complex else "BAD_USER_INPUT"
            return GraphQLError(
                without_input_values(error.message),
                nodes=error.nodes,
                source=error.source,
                positions=error.positions,
                path=error.path,
                extensions=extensions,
            )
        if isinstance(original, DomainError):
            extensions["code"] = original.code
            if original.field:
                extensions["field"] = list(original.field)
            # Errors may add their own entries, such as a subscription's resume position.
            extensions.update(getattr(original, "extensions", None) or {})
            return GraphQLError(
                original.message, nodes=error.nodes, path=error.path, extensions=extensions
            )
        logger.error(
            "unexpected error at %s",
            error.path,
            exc_info=(type(original), original, original.__traceback__),
        )
        return GraphQLError(
            "internal server error",
            nodes=error.nodes,
            path=error.path,
            extensions={"code": "INTERNAL_SERVER_ERROR"},
        )
