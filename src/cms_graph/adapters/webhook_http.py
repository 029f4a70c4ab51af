"""Signed webhook POSTs over HTTP.

A receiver checks ``X-CMS-Signature: v1=<hex>``, the HMAC-SHA256 under the integration's
signing secret of ``<X-CMS-Timestamp>.<raw body>``. It should also reject old timestamps,
so that a captured request cannot be sent again later.
"""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass

import httpx

SIGNATURE_VERSION = "v1"


def signature(secret: bytes, timestamp: str, body: bytes) -> str:
    """Return the ``X-CMS-Signature`` header value for ``body`` sent at ``timestamp``."""
    digest = hmac.new(secret, timestamp.encode("ascii") + b"." + body, hashlib.sha256)
    return f"{SIGNATURE_VERSION}={digest.hexdigest()}"


@dataclass(frozen=True)
class PostResult:
    """The HTTP status of one POST, or the transport error when no response came."""

    status: int | None
    error: str | None

    @property
    def succeeded(self) -> bool:
        return self.status is not None and 200 <= self.status < 300


def post_signed(
    url: str,
    body: bytes,
    *,
    secret: bytes,
    timestamp: str,
    idempotency_key: str,
    timeout_seconds: float,
) -> PostResult:
    """POST ``body`` to ``url`` with the signature headers, returning transport errors
    and non-2xx responses as a result instead of raising them.

    Redirects are not followed: the approved endpoint is the only address data goes to.
    """
    headers = {
        "Content-Type": "application/json",
        "Idempotency-Key": idempotency_key,
        "X-CMS-Timestamp": timestamp,
        "X-CMS-Signature": signature(secret, timestamp, body),
    }
    try:
        response = httpx.post(
            url, content=body, headers=headers, timeout=timeout_seconds, follow_redirects=False
        )
    except httpx.TimeoutException:
        return PostResult(None, f"timed out after {timeout_seconds:g} s")
    except (httpx.HTTPError, httpx.InvalidURL) as error:
        return PostResult(None, f"{type(error).__name__}: {error}")
    if 200 <= response.status_code < 300:
        return PostResult(response.status_code, None)
    return PostResult(
        response.status_code, f"HTTP {response.status_code} {response.reason_phrase}".strip()
    )


__all__ = ["PostResult", "post_signed", "signature"]
