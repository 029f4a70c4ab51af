"""A Database wrapper that keeps the text of the statements its reads execute."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import Any


class RecordingCursor:
    """A cursor that passes statements to a real cursor and records their text."""

    def __init__(self, cursor: Any, statements: list[str]) -> None:
        self._cursor = cursor
        self._statements = statements

    def execute(self, statement: str, parameters: Mapping[str, Any] = {}) -> None:
        self._statements.append(statement)
        self._cursor.execute(statement, parameters)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._cursor, name)


class RecordingDatabase:
    """A Database whose reads record the text of the statements they execute."""

    def __init__(self, database: Any) -> None:
        self._database = database
        self.statements: list[str] = []

    @contextmanager
    def read(self) -> Iterator[RecordingCursor]:
        with self._database.read() as cursor:
            yield RecordingCursor(cursor, self.statements)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._database, name)

    def count_star_statements(self) -> int:
        """Return how many recorded statements contain COUNT(*)."""
        return sum("COUNT(*)" in statement for statement in self.statements)
