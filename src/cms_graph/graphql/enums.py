"""GraphQL enums, exposed from the domain's enums so the two cannot drift apart."""

from __future__ import annotations

from enum import StrEnum

import strawberry

from cms_graph.domain import values

ComplaintStatus = strawberry.enum(values.ComplaintStatus, name="ComplaintStatus")
ComplaintCategory = strawberry.enum(values.ComplaintCategory, name="ComplaintCategory")
Channel = strawberry.enum(values.Channel, name="Channel")
Outcome = strawberry.enum(values.Outcome, name="Outcome")
Language = strawberry.enum(values.Language, name="Language")
Role = strawberry.enum(values.Role, name="Role")
ActorKind = strawberry.enum(values.ActorKind, name="ActorKind")


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
