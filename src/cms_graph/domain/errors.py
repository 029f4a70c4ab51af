"""Errors raised by the domain and application layers.

Each error carries a stable ``code`` from the GraphQL contract, so the API layer maps it
to a user error or a GraphQL error without inspecting messages.
"""

from __future__ import annotations


class DomainError(Exception):
    """Base class for errors a caller can act on."""

    code = "INTERNAL_SERVER_ERROR"

    def __init__(self, message: str, *, field: tuple[str, ...] = ()) -> None:
        super().__init__(message)
        self.message = message
        self.field = field


class InvalidInput(DomainError):
    """Raised when a value fails validation; ``field`` names the input path."""

    code = "BAD_USER_INPUT"


class InvalidTransition(DomainError):
    """Raised when a command is not allowed in the complaint's current status."""

    code = "INVALID_TRANSITION"


class Conflict(DomainError):
    """Raised when another command changed the complaint first."""

    code = "CONFLICT"


class NotFound(DomainError):
    """Raised when a complaint or unit does not exist or is hidden from the caller."""

    code = "NOT_FOUND"


class Unauthenticated(DomainError):
    """Raised when an operation needs a token and none or an invalid one was sent."""

    code = "UNAUTHENTICATED"


class Forbidden(DomainError):
    """Raised when the caller's role or unit does not allow the operation."""

    code = "FORBIDDEN"


class UpstreamUnavailable(DomainError):
    """Raised when another system the command needs (PSRMS) timed out, refused the
    connection or failed with a server error. Nothing was changed."""

    code = "UPSTREAM_UNAVAILABLE"


class UpstreamRejected(DomainError):
    """Raised when another system the command needs (PSRMS) rejected the request with
    a reason. Nothing was changed."""

    code = "UPSTREAM_REJECTED"


__all__ = [
    "Conflict",
    "DomainError",
    "Forbidden",
    "InvalidInput",
    "InvalidTransition",
    "NotFound",
    "Unauthenticated",
    "UpstreamRejected",
    "UpstreamUnavailable",
]
