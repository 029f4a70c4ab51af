"""Read the rows of a legacy CSV file and write the rejects file of an import.

Files are read as UTF-8, with or without a byte order mark. Row numbers count records
as in the file, with the header as row 1 and blank lines counted, so they match line
numbers unless a quoted field spans several lines.
"""

from __future__ import annotations

import csv
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Any, TextIO

REJECTS_COLUMNS = ("row", "legacy_id", "reason", "detail")


class LegacyFileError(ValueError):
    """Raised when a legacy file cannot be read as UTF-8 CSV. The message names file and row."""


@dataclass(frozen=True)
class LegacyRow:
    """One data row. ``values`` maps each header column to its stripped value.

    A row whose field count differs from the header's has ``problem`` set, and ``values``
    then holds only the columns that the row reaches.
    """

    number: int
    values: dict[str, str]
    problem: str | None = None


def read_header(path: Path) -> list[str]:
    """Return the stripped column names of the file's first row."""
    for row in _records(path, header_only=True):
        return row
    raise LegacyFileError(f"{path}: the file is empty; expected a header row")


def read_rows(path: Path) -> Iterator[LegacyRow]:
    """Yield each data row of the file, skipping blank lines.

    Raises LegacyFileError when the file is not valid UTF-8 or not valid CSV.
    """
    records = _records(path, header_only=False)
    header = next(records, None)
    if header is None:
        raise LegacyFileError(f"{path}: the file is empty; expected a header row")
    number = 1
    for fields in records:
        number += 1
        if not fields:
            continue  # csv returns an empty list for a blank line
        values = {name: value.strip() for name, value in zip(header, fields, strict=False)}
        problem = None
        if len(fields) != len(header):
            problem = f"row has {len(fields)} fields, but the header has {len(header)}"
        yield LegacyRow(number, values, problem)


def _records(path: Path, *, header_only: bool) -> Iterator[list[str]]:
    number = 0
    try:
        with path.open(encoding="utf-8-sig", newline="") as file:
            reader = csv.reader(file)
            for fields in reader:
                number += 1
                if number == 1:
                    yield [name.strip() for name in fields]
                    if header_only:
                        return
                    continue
                yield fields
    except UnicodeDecodeError as error:
        raise LegacyFileError(
            f"{path}: not valid UTF-8 after row {number}: {error}; convert the file to UTF-8"
        ) from None
    except csv.Error as error:
        raise LegacyFileError(f"{path}, row {number + 1}: not valid CSV: {error}") from None


class RejectsWriter:
    """Writer of the rejects file, one CSV row per rejected legacy row.

    The columns are row number, legacy id, reason and detail. The file is replaced on
    open, so it lists the rejects of the latest run only.
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        self._file: TextIO | None = None
        self._writer: Any = None
        self.count = 0

    def __enter__(self) -> RejectsWriter:
        self._file = self.path.open("w", encoding="utf-8", newline="")
        self._writer = csv.writer(self._file)
        self._writer.writerow(REJECTS_COLUMNS)
        return self

    def write(self, row: int, legacy_id: str, reason: str, detail: str) -> None:
        if self._writer is None:
            raise RuntimeError("RejectsWriter.write called outside its with block")
        self._writer.writerow((row, legacy_id, reason, detail))
        self.count += 1

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        if self._file is not None:
            self._file.close()
        self._file = None
        self._writer = None


__all__ = [
    "REJECTS_COLUMNS",
    "LegacyFileError",
    "LegacyRow",
    "RejectsWriter",
    "read_header",
    "read_rows",
]
