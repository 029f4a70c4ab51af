"""The rows a lodging writes before its first event: the complainant's key, the
tracking number and the complainant's lookup index rows.

On PostgreSQL all go into one autocommitted statement, so lodging pays one round trip
for them, not the five of BEGIN, three INSERTs and COMMIT. On SQLite they share one
transaction, which writes all or none.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from uuid import UUID

from cms_graph.adapters.database import PostgresDatabase
from cms_graph.adapters.lookup_index import ComplainantLookupIndex
from cms_graph.adapters.tracking_numbers import TrackingNumberIndex
from cms_graph.adapters.vault import PersonalDataVault

# The key and lookup rows are written even when the number is taken: the lodging then
# reserves another number on its own, and both stay with the complaint. NOTE: when no free
# number is found at all, the lodging fails and leaves an unused key row and lookup rows
# behind. The lookup finds nothing through them, because it joins the complaint view.
_KEY = (
    "WITH new_key AS ("
    " INSERT INTO complainant_keys (complaint_id, key_material, created_at)"
    " VALUES (:id, :key, :now))"
)
_NUMBER = (
    " INSERT INTO tracking_numbers (tracking_number, complaint_id, reserved_at)"
    " VALUES (:number, :id, :now) ON CONFLICT (tracking_number) DO NOTHING"
    " RETURNING tracking_number"
)


def _lookup_clause(rows: list[dict[str, str]], parameters: dict[str, object]) -> str:
    """Return the WITH clause that inserts the lookup rows, adding their parameters."""
    if not rows:
        return ""
    values = []
    for index, row in enumerate(rows):
        parameters[f"kind{index}"] = row["kind"]
        parameters[f"digest{index}"] = row["digest"]
        values.append(f"(:id, :kind{index}, :digest{index})")
    # Only placeholders are joined in, because the values travel as parameters.
    placeholders = ", ".join(values)
    return (
        ", new_lookup AS (INSERT INTO complainant_lookup (complaint_id, kind, digest)"  # noqa: S608
        f" VALUES {placeholders})"
    )


def create_key_and_reserve_number(
    vault: PersonalDataVault,
    tracking_numbers: TrackingNumberIndex,
    complaint_id: UUID,
    generate: Callable[[], str],
    lookup_rows: list[dict[str, str]] | None = None,
) -> tuple[bytes, str]:
    """Store a new complainant key and its lookup rows (from ``ComplainantLookupIndex.rows``)
    and reserve a tracking number from ``generate``.

    Return the key material and the number. Raises RuntimeError, as
    ``TrackingNumberIndex.reserve`` does, when no free number is found.
    """
    database = vault.database
    if not isinstance(database, PostgresDatabase):
        with database.transaction() as cursor:
            key_material = vault.create_key(complaint_id, cursor)
            if lookup_rows:
                ComplainantLookupIndex.insert(cursor, lookup_rows)
            return key_material, tracking_numbers.reserve(complaint_id, generate, cursor)

    key_material = vault.new_key_material()
    candidate = generate()
    parameters: dict[str, object] = {
        "id": str(complaint_id),
        "key": key_material,
        "now": datetime.now(UTC),
        "number": candidate,
    }
    statement = _KEY + _lookup_clause(lookup_rows or [], parameters) + _NUMBER
    with database.autocommit() as cursor:
        cursor.execute(statement, parameters)
        reserved = cursor.fetchone()
    if reserved is not None:
        return key_material, candidate
    # The rare collision: the key is stored, so only the number is tried again.
    return key_material, tracking_numbers.reserve(complaint_id, generate)


__all__ = ["create_key_and_reserve_number"]
