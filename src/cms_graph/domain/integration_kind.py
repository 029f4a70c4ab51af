"""The channels through which an integration receives complaint data."""

from __future__ import annotations

from enum import StrEnum


class IntegrationKind(StrEnum):
    """The channel through which an integration receives complaint data."""

    WEBHOOK = "WEBHOOK"
    SUBSCRIPTION = "SUBSCRIPTION"
    EXPORT = "EXPORT"


__all__ = ["IntegrationKind"]
