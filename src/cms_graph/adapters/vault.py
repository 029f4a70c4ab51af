"""Per-complaint keys for complainant personal data, kept outside the event log.

Each complaint gets a random 256-bit key. Its personal data is sealed with AES-256-GCM
under a key derived from it, and the phone number is stored only as an HMAC under a
second derived key. Deleting the key row ("crypto-shredding") leaves the events intact
but makes that data unreadable and the phone digest unmatchable.
"""

from __future__ import annotations

import hmac
import json
import os
from contextlib import nullcontext
from datetime import UTC, datetime
from hashlib import sha256
from uuid import UUID

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from cms_graph.adapters.database import Cursor, Database
from cms_graph.adapters.lookup_index import ComplainantLookupIndex
from cms_graph.domain.personal_data import Complainant

_KEY_TABLE = {
    "sqlite": (
        "CREATE TABLE IF NOT EXISTS complainant_keys ("
        " complaint_id TEXT PRIMARY KEY, key_material BLOB, created_at TIMESTAMPTZ NOT NULL,"
        " shredded_at TIMESTAMPTZ)"
    ),
    "postgres": (
        "CREATE TABLE IF NOT EXISTS complainant_keys ("
        " complaint_id uuid PRIMARY KEY, key_material bytea, created_at timestamptz NOT NULL,"
        " shredded_at timestamptz)"
    ),
}
_NONCE_BYTES = 12
KEY_BYTES = 32


def _derive(key_material: bytes, purpose: bytes) -> bytes:
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=purpose).derive(key_material)


class PersonalDataVault:
    def __init__(self, database: Database) -> None:
        self.database = database

    def create_tables(self) -> None:
        self.database.run_script(_KEY_TABLE[self.database.dialect])

    @staticmethod
    def new_key_material() -> bytes:
        return os.urandom(KEY_BYTES)

    def create_key(self, complaint_id: UUID, cursor: Cursor | None = None) -> bytes:
        """Store a new key for the complaint, in ``cursor``'s transaction if given."""
        key_material = self.new_key_material()
        with self.database.transaction() if cursor is None else nullcontext(cursor) as write:
            write.execute(
                "INSERT INTO complainant_keys (complaint_id, key_material, created_at)"
                " VALUES (:id, :key, :now)",
                {"id": str(complaint_id), "key": key_material, "now": datetime.now(UTC)},
            )
        return key_material

    def key_for(self, complaint_id: UUID) -> bytes | None:
        with self.database.read() as cursor:
            cursor.execute(
                "SELECT key_material FROM complainant_keys WHERE complaint_id = :id",
                {"id": str(complaint_id)},
            )
            row = cursor.fetchone()
        if row is None or row["key_material"] is None:
            return None
        return bytes(row["key_material"])

    @staticmethod
    def seal(key_material: bytes, complaint_id: UUID, complainant: Complainant) -> bytes:
        plaintext = json.dumps(complainant.to_dict(), ensure_ascii=False).encode("utf-8")
        nonce = os.urandom(_NONCE_BYTES)
        cipher = AESGCM(_derive(key_material, b"cms-graph complainant seal"))
        return nonce + cipher.encrypt(nonce, plaintext, complaint_id.bytes)

    @staticmethod
    def phone_digest(key_material: bytes, phone: str) -> str:
        mac_key = _derive(key_material, b"cms-graph phone digest")
        return hmac.new(mac_key, phone.encode("ascii"), sha256).hexdigest()

    def open(self, complaint_id: UUID, sealed: bytes) -> Complainant | None:
        """Return the complainant's data, or None when the key was shredded or the
        complaint was imported without personal data (``sealed`` is empty)."""
        if not sealed:
            return None
        key_material = self.key_for(complaint_id)
        if key_material is None:
            return None
        cipher = AESGCM(_derive(key_material, b"cms-graph complainant seal"))
        plaintext = cipher.decrypt(sealed[:_NONCE_BYTES], sealed[_NONCE_BYTES:], complaint_id.bytes)
        return Complainant.from_dict(json.loads(plaintext.decode("utf-8")))

    def phone_matches(self, complaint_id: UUID, phone: str, digest: str) -> bool:
        key_material = self.key_for(complaint_id)
        if key_material is None:
            return False
        return hmac.compare_digest(self.phone_digest(key_material, phone), digest)

    def shred(self, complaint_id: UUID) -> None:
        """Delete the complaint's key, and with it its rows in the CNIC and phone lookup
        index, in one transaction."""
        with self.database.transaction() as cursor:
            cursor.execute(
                "UPDATE complainant_keys SET key_material = NULL, shredded_at = :now"
                " WHERE complaint_id = :id",
                {"id": str(complaint_id), "now": datetime.now(UTC)},
            )
            ComplainantLookupIndex.remove(cursor, complaint_id)


__all__ = ["PersonalDataVault"]
