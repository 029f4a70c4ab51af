"""GraphQL enums. The domain's enums are registered as they are, so the two cannot drift."""

from __future__ import annotations

from enum import StrEnum

import strawberry

from cms_graph.domain.deadlines import DeadlineStep
from cms_graph.domain.ladder import Rank
from cms_graph.domain.values import (
    ActorKind,
    Channel,
    ComplaintCategory,
    ComplaintStatus,
    Language,
    Outcome,
    Role,
)

for _domain_enum in (
    ActorKind,
    Channel,
    ComplaintCategory,
    ComplaintStatus,
    DeadlineStep,
    Language,
    Outcome,
    Rank,
    Role,
):
    strawberry.enum(_domain_enum)


@strawberry.enum
class UserErrorCode(StrEnum):
    UNAUTHENTICATED = "UNAUTHENTICATED"
    FORBIDDEN = "FORBIDDEN"
    NOT_FOUND = "NOT_FOUND"
    BAD_USER_INPUT = "BAD_USER_INPUT"
    INVALID_TRANSITION = "INVALID_TRANSITION"
    CONFLICT = "CONFLICT"
    RATE_LIMITED = "RATE_LIMITED"
    QUERY_TOO_COMPLEX = "QUERY_TOO_COMPLEX"
    INTERNAL_SERVER_ERROR = "INTERNAL_SERVER_ERROR"
    # Another system the mutation needs (PSRMS) failed or timed out; nothing changed.
    UPSTREAM_UNAVAILABLE = "UPSTREAM_UNAVAILABLE"
    # Another system the mutation needs (PSRMS) rejected the request; nothing changed.
    UPSTREAM_REJECTED = "UPSTREAM_REJECTED"


__all__ = [
    "ActorKind",
    "Channel",
    "ComplaintCategory",
    "ComplaintStatus",
    "DeadlineStep",
    "Language",
    "Outcome",
    "Rank",
    "Role",
    "UserErrorCode",
]
