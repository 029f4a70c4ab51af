"""The hash chain over the event log's global order, and its signed checkpoints.

Each stored event gets a SHA-256 digest of everything stored for it (position,
aggregate id, version, topic, state), and each link hashes the previous link with that
digest, starting from 32 zero bytes. Changing, removing, inserting or reordering stored
events therefore changes the links from that position on. Checkpoints sign a link with
HMAC-SHA256 under the audit key, so rewriting events and links together is detected too.
"""

from __future__ import annotations

import hashlib
import hmac
import struct
from uuid import UUID

GENESIS = bytes(32)


def event_digest(
    notification_id: int,
    originator_id: UUID | str,
    originator_version: int,
    topic: str,
    state: bytes,
) -> bytes:
    digest = hashlib.sha256()
    digest.update(struct.pack(">q", notification_id))
    digest.update(UUID(str(originator_id)).bytes)
    digest.update(struct.pack(">q", originator_version))
    digest.update(topic.encode("utf-8"))
    digest.update(b"\x00")
    digest.update(state)
    return digest.digest()


def next_link(previous: bytes, digest: bytes) -> bytes:
    return hashlib.sha256(previous + digest).digest()


def sign_checkpoint(key: bytes, notification_id: int, link: bytes) -> str:
    message = f"cms-graph checkpoint {notification_id} {link.hex()}".encode()
    return hmac.new(key, message, hashlib.sha256).hexdigest()


def checkpoint_valid(key: bytes, notification_id: int, link: bytes, signature: str) -> bool:
    return hmac.compare_digest(sign_checkpoint(key, notification_id, link), signature)


__all__ = ["GENESIS", "checkpoint_valid", "event_digest", "next_link", "sign_checkpoint"]
