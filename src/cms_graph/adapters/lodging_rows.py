"""The rows a lodging writes before its first event: the complainant's key and the
tracking number.

On PostgreSQL both go into one autocommitted statement, so lodging pays one round trip
for them, not the four of BEGIN, two INSERTs and COMMIT. On SQLite they share one
transaction, which writes both or neither.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from uuid import UUID

from cms_graph.adapters.database import PostgresDatabase
from cms_graph.adapters.tracking_numbers import TrackingNumberIndex
from cms_graph.adapters.vault import PersonalDataVault

# The key row is written even when the number is taken: the lodging then reserves
# another number on its own, and the key stays with the complaint. NOTE: when no free
# number is found at all, the lodging fails and leaves an unused key row behind.
_KEY_AND_NUMBER = (
    "WITH new_key AS ("
    " INSERT INTO complainant_keys (complaint_id, key_material, created_at)"
    " VALUES (:id, :key, :now))"
    " INSERT INTO tracking_numbers (tracking_number, complaint_id, reserved_at)"
    " VALUES (:number, :id, :now) ON CONFLICT (tracking_number) DO NOTHING"
    " RETURNING tracking_number"
)


def create_key_and_reserve_number(
    vault: PersonalDataVault,
    tracking_numbers: TrackingNumberIndex,
    complaint_id: UUID,
    generate: Callable[[], str],
) -> tuple[bytes, str]:
    """Store a new complainant key and reserve a tracking number from ``generate``.

    Return the key material and the number. Raises RuntimeError, as
    ``TrackingNumberIndex.reserve`` does, when no free number is found.
    """
    database = vault.database
    if not isinstance(database, PostgresDatabase):
        with database.transaction() as cursor:
            key_material = vault.create_key(complaint_id, cursor)
            return key_material, tracking_numbers.reserve(complaint_id, generate, cursor)

    key_material = vault.new_key_material()
    candidate = generate()
    with database.autocommit() as cursor:
        cursor.execute(
            _KEY_AND_NUMBER,
            {
                "id": str(complaint_id),
                "key": key_material,
                "now": datetime.now(UTC),
                "number": candidate,
            },
        )
        reserved = cursor.fetchone()
    if reserved is not None:
        return key_material, candidate
    # The rare collision: the key is stored, so only the number is tried again.
    return key_material, tracking_numbers.reserve(complaint_id, generate)


__all__ = ["create_key_and_reserve_number"]
