"""API keys and webhook signing secrets for integrations, and the hashes kept of them.

An API key is 32 random bytes (``secrets.token_urlsafe``) after the prefix ``cmsi_``, so a
leaked key is easy to recognise in a log or a repository scan. Only its SHA-256 is stored:
the key has 256 bits of entropy, so a fast hash resists guessing as well as a slow KDF
would, and the lookup stays cheap.

The webhook signing secret is never stored. It is HMAC-SHA256 under the server's
integration key (``CMS_INTEGRATION_KEY``) over the integration id and the credential
generation, so the sender recomputes it, and a rotation (the next generation) changes it.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
from dataclasses import dataclass
from uuid import UUID

API_KEY_PREFIX = "cmsi_"
SIGNING_SECRET_PREFIX = "whsec_"  # noqa: S105  # a prefix, not a secret
HASH_SCHEME = "sha256:"


@dataclass(frozen=True)
class IssuedCredentials:
    """Credentials as handed out once, in the activating or rotating mutation's payload."""

    api_key: str
    signing_secret: str
    generation: int


def new_api_key() -> str:
    return API_KEY_PREFIX + secrets.token_urlsafe(32)


def hash_api_key(api_key: str) -> str:
    return HASH_SCHEME + hashlib.sha256(api_key.encode("utf-8")).hexdigest()


def api_key_matches(api_key: str, stored_hash: str | None) -> bool:
    """Return whether ``api_key`` hashes to ``stored_hash``, in constant time."""
    if not stored_hash:
        return False
    return hmac.compare_digest(hash_api_key(api_key), stored_hash)


def derive_signing_secret(server_key: bytes, integration_id: UUID, generation: int) -> str:
    """Return the webhook signing secret of one credential generation.

    The secret is the text shown to the integrator; its UTF-8 bytes are the HMAC key
    that signs each delivery.
    """
    message = f"webhook-signing:{integration_id}:{generation}".encode()
    digest = hmac.new(server_key, message, hashlib.sha256).digest()
    return SIGNING_SECRET_PREFIX + base64.urlsafe_b64encode(digest).decode("ascii").rstrip("=")


__all__ = [
    "API_KEY_PREFIX",
    "SIGNING_SECRET_PREFIX",
    "IssuedCredentials",
    "api_key_matches",
    "derive_signing_secret",
    "hash_api_key",
    "new_api_key",
]
