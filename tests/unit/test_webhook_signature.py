"""The webhook signature format and the retry policy's decisions."""

from __future__ import annotations

from datetime import timedelta

import pytest

from cms_graph.adapters.webhook_http import PostResult, signature
from cms_graph.application.webhook_delivery import RetryPolicy, is_retryable


def test_signature_pinned_format() -> None:
    # HMAC-SHA256 of b'1767225600.{"position":7}' under b"secret-for-tests".
    expected = "v1=f3095405f1e32c7b55644a008f6f3e9c6ec92ec85089b119614b8e31d0fcd020"
    assert signature(b"secret-for-tests", "1767225600", b'{"position":7}') == expected


def test_signature_covers_timestamp() -> None:
    body = b'{"position":7}'
    assert signature(b"secret-for-tests", "1767225601", body) != signature(
        b"secret-for-tests", "1767225600", body
    )


@pytest.mark.parametrize(
    ("status", "retried"),
    [
        (None, True),
        (408, True),
        (425, True),
        (429, True),
        (500, True),
        (503, True),
        (301, False),
        (400, False),
        (401, False),
        (404, False),
        (422, False),
    ],
)
def test_retry_decision_by_status(status: int | None, retried: bool) -> None:
    result = PostResult(status, None if status else "timed out after 10 s")
    assert is_retryable(result) is retried


def test_backoff_estimate_doubles_then_caps() -> None:
    policy = RetryPolicy(
        max_attempts=5, min_backoff_ms=1000, max_backoff_ms=5000, timeout_seconds=10
    )
    assert policy.backoff_after(1) == timedelta(seconds=2)
    assert policy.backoff_after(2) == timedelta(seconds=4)
    assert policy.backoff_after(3) == timedelta(seconds=5)
