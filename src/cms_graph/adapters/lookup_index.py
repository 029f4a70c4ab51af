"""The blind index that finds complaints by a complainant's CNIC or phone number.

Personal data is sealed per complaint and the phone digest is keyed per complaint, so
neither can be searched. This table holds, per complaint, an HMAC-SHA256 of each
normalised CNIC and phone under one server key (CMS_LOOKUP_KEY): equal values give equal
digests, and without the key a digest reveals nothing. Rows are written at lodging and
deleted with the complaint's vault key (``PersonalDataVault.shred``).

The table ``complainant_lookup`` is created by migration 008. Complaints lodged before
it, or indexed under an earlier key, are indexed by ``cms-graph lookup-index rebuild``.
"""

from __future__ import annotations

import hmac
from enum import StrEnum
from hashlib import sha256
from uuid import UUID

from cms_graph.adapters.database import Cursor, Database
from cms_graph.domain.personal_data import Complainant

LOOKUP_TABLE = "complainant_lookup"


class LookupKind(StrEnum):
    CNIC = "CNIC"
    PHONE = "PHONE"


class ComplainantLookupIndex:
    def __init__(self, database: Database, key: bytes) -> None:
        if len(key) < 32:
            raise ValueError("the lookup key must have at least 32 bytes")
        self.database = database
        self._key = key

    def digest(self, kind: LookupKind, normalised_value: str) -> str:
        """Return the keyed digest of a value already normalised by ``personal_data``.

        The kind is part of the message, so a CNIC and a phone never share a digest.
        """
        message = f"{kind.value}:{normalised_value}".encode()
        return hmac.new(self._key, message, sha256).hexdigest()

    def rows(self, complaint_id: UUID, complainant: Complainant) -> list[dict[str, str]]:
        """Return the index rows of one complainant: the phone, and the CNIC when given."""
        values = [(LookupKind.PHONE, complainant.phone)]
        if complainant.cnic is not None:
            values.append((LookupKind.CNIC, complainant.cnic))
        return [
            {"id": str(complaint_id), "kind": kind.value, "digest": self.digest(kind, value)}
            for kind, value in values
        ]

    @staticmethod
    def insert(cursor: Cursor, rows: list[dict[str, str]]) -> None:
        """Insert rows made by ``rows``, inside the caller's transaction."""
        cursor.executemany(
            "INSERT INTO complainant_lookup (complaint_id, kind, digest)"
            " VALUES (:id, :kind, :digest)",
            rows,
        )

    def add(self, complaint_id: UUID, complainant: Complainant, *, replace: bool = False) -> None:
        """Index the complainant's CNIC (when given) and phone under ``complaint_id``.

        ``replace=True`` first deletes the complaint's rows, in the same transaction, so
        reindexing under a new key never leaves the complaint unfindable in between.
        """
        with self.database.transaction() as cursor:
            if replace:
                self.remove(cursor, complaint_id)
            self.insert(cursor, self.rows(complaint_id, complainant))

    @staticmethod
    def remove(cursor: Cursor, complaint_id: UUID) -> None:
        """Delete the complaint's rows, inside the caller's transaction."""
        cursor.execute(
            "DELETE FROM complainant_lookup WHERE complaint_id = :id", {"id": str(complaint_id)}
        )


__all__ = ["LOOKUP_TABLE", "ComplainantLookupIndex", "LookupKind"]
