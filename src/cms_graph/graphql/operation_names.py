"""Record the name of each GraphQL operation for the request log and the latency metric."""

from __future__ import annotations

from collections.abc import Iterator

from graphql import DocumentNode, FieldNode
from graphql.utilities import get_operation_ast
from strawberry.extensions import SchemaExtension

# Key of the operation name in the HTTP request's state (``request.state``).
OPERATION_STATE_KEY = "graphql_operation"


def operation_name_of(
    document: DocumentNode | None, operation_name: str | None, *, valid: bool
) -> str | None:
    """Return the operation's name, or the first top-level field of an unnamed operation.

    The field counts only when the document passed validation, so the field exists in
    the schema. Returns None when the document did not parse, when no operation matches
    ``operation_name``, or when the first selection is a fragment.
    """
    if document is None:
        return None
    operation = get_operation_ast(document, operation_name)
    if operation is None:
        return None
    if operation.name is not None:
        return operation.name.value
    if not valid or not operation.selection_set.selections:
        return None
    first = operation.selection_set.selections[0]
    return first.name.value if isinstance(first, FieldNode) else None


class OperationNames(SchemaExtension):
    """Store the operation's name in the HTTP request's state, under ``graphql_operation``.

    Nothing is stored when the operation has no name by ``operation_name_of`` or runs
    without a request (in tests that execute the schema directly).
    """

    def on_operation(self) -> Iterator[None]:
        self._valid = False
        yield
        request = getattr(self.execution_context.context, "request", None)
        if request is None:
            return
        name = operation_name_of(
            self.execution_context.graphql_document,
            self.execution_context.operation_name,
            valid=self._valid,
        )
        if name is not None:
            setattr(request.state, OPERATION_STATE_KEY, name)

    def on_validate(self) -> Iterator[None]:
        yield
        self._valid = not self.execution_context.pre_execution_errors


__all__ = ["OPERATION_STATE_KEY", "OperationNames", "operation_name_of"]
