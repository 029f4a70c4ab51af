"""The ``Integration`` aggregate: an outside system's access to complaint data.

An integration is requested by one administrator and becomes active only after two other
administrators approve it, each having passed a second factor. Rejection ends a request,
and revocation ends an active integration. The application issues credentials with the
second approval and with each rotation. The events carry only a hash of the API key and a
generation number, never the key or the webhook signing secret.

Like the complaint, each command checks its rules in ``check_…`` steps before it triggers
an event, so a rejected command writes nothing.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from enum import StrEnum
from urllib.parse import urlsplit
from uuid import UUID

from eventsourcing.domain import Aggregate

from cms_graph.domain.complaint import MAX_REASON_LENGTH, Complaint, check_text
from cms_graph.domain.errors import Forbidden, InvalidInput, InvalidTransition
from cms_graph.domain.integration_kind import IntegrationKind
from cms_graph.domain.values import Actor, Role

# Roles that may request, approve, reject, revoke and rotate. Approval and rotation also
# need a second factor. Requesting, rejecting and revoking do not, so that stopping a data
# flow is never harder than starting one.
ADMINISTRATOR_ROLES = frozenset({Role.ADMIN, Role.ADDL_IGP})
REQUIRED_APPROVALS = 2
MAX_NAME_LENGTH = 200
MAX_ENDPOINT_LENGTH = 2000
PRINCIPAL_PREFIX = "integration:"


class IntegrationStatus(StrEnum):
    PENDING_APPROVAL = "PENDING_APPROVAL"
    ACTIVE = "ACTIVE"
    REJECTED = "REJECTED"
    REVOKED = "REVOKED"


def complaint_event_types() -> tuple[str, ...]:
    """Return the class names of the complaint's domain events, sorted."""
    names = {
        value.__name__
        for value in vars(Complaint).values()
        if isinstance(value, type)
        and issubclass(value, Complaint.Event)
        and value is not Complaint.Event
    }
    return tuple(sorted(names))


def integration_principal(integration_id: UUID) -> str:
    """Return the token subject (``sub``) under which an integration acts."""
    return f"{PRINCIPAL_PREFIX}{integration_id}"


def check_endpoint(kind: IntegrationKind, endpoint: str | None) -> str | None:
    """Return the webhook URL stripped, or raise InvalidInput naming ``endpoint``.

    A WEBHOOK needs an absolute http or https URL with a host; other kinds take none.
    """
    text = (endpoint or "").strip()
    if kind is not IntegrationKind.WEBHOOK:
        if text:
            raise InvalidInput(
                f"endpoint is only for WEBHOOK integrations, not {kind.value}; leave it out",
                field=("endpoint",),
            )
        return None
    if not text:
        raise InvalidInput(
            "endpoint is required for a WEBHOOK integration: an http or https URL",
            field=("endpoint",),
        )
    if len(text) > MAX_ENDPOINT_LENGTH:
        raise InvalidInput(
            f"endpoint is {len(text)} characters long; the maximum is {MAX_ENDPOINT_LENGTH}",
            field=("endpoint",),
        )
    try:
        parts = urlsplit(text)
        host = parts.hostname
    except ValueError:
        host = None
        parts = None
    if parts is None or parts.scheme not in ("http", "https") or not host:
        raise InvalidInput(
            f"endpoint {text[:100]!r} is not a valid URL: expected http://host/… or https://host/…",
            field=("endpoint",),
        )
    if parts.username or parts.password:
        raise InvalidInput(
            "endpoint must not contain a user name or password; the integration's"
            " signing secret authenticates each delivery",
            field=("endpoint",),
        )
    return text


def check_event_types(kind: IntegrationKind, event_types: Iterable[str]) -> tuple[str, ...]:
    """Return the event type names sorted and without repeats, or raise InvalidInput.

    WEBHOOK and SUBSCRIPTION integrations receive events, so they name at least one;
    an EXPORT integration reads complaints on request and names none.
    """
    names = sorted({name.strip() for name in event_types})
    valid = complaint_event_types()
    unknown = [name for name in names if name not in valid]
    if unknown:
        raise InvalidInput(
            f"eventTypes has unknown event type {unknown[0]!r}: valid types are {', '.join(valid)}",
            field=("eventTypes",),
        )
    if kind is IntegrationKind.EXPORT and names:
        raise InvalidInput(
            "eventTypes must be empty for an EXPORT integration, which receives no events",
            field=("eventTypes",),
        )
    if kind is not IntegrationKind.EXPORT and not names:
        raise InvalidInput(
            f"eventTypes is empty: a {kind.value} integration needs at least one of"
            f" {', '.join(valid)}",
            field=("eventTypes",),
        )
    return tuple(names)


def check_administrator(actor: Actor, command: str) -> None:
    if actor.role not in ADMINISTRATOR_ROLES:
        allowed = ", ".join(sorted(role.value for role in ADMINISTRATOR_ROLES))
        raise Forbidden(f"role {actor.role} may not {command}; allowed roles: {allowed}")


class Integration(Aggregate):
    """An outside system's approved (or pending, rejected, revoked) access to complaints."""

    class Event(Aggregate.Event):
        actor: Actor
        occurred_at: datetime

    class IntegrationRequested(Aggregate.Created, Event):
        name: str
        kind: IntegrationKind
        endpoint: str | None
        event_types: list[str]
        allowed_fields: list[str]

    class IntegrationApproved(Event):
        """One approval. The approval that completes the count activates the integration
        and carries the first credentials' hash; earlier approvals carry None."""

        second_factor: bool
        credential_generation: int | None
        api_key_hash: str | None

        def apply(self, aggregate: Integration) -> None:
            aggregate.approvals.append(self.actor)
            if self.api_key_hash is not None:
                aggregate.status = IntegrationStatus.ACTIVE
                aggregate.activated_at = self.occurred_at
                aggregate.credential_generation = self.credential_generation or 1
                aggregate.api_key_hash = self.api_key_hash

    class IntegrationRejected(Event):
        reason: str

        def apply(self, aggregate: Integration) -> None:
            aggregate.status = IntegrationStatus.REJECTED
            aggregate.ended_at = self.occurred_at
            aggregate.ended_reason = self.reason

    class IntegrationRevoked(Event):
        reason: str

        def apply(self, aggregate: Integration) -> None:
            aggregate.status = IntegrationStatus.REVOKED
            aggregate.ended_at = self.occurred_at
            aggregate.ended_reason = self.reason

    class IntegrationCredentialsRotated(Event):
        credential_generation: int
        api_key_hash: str

        def apply(self, aggregate: Integration) -> None:
            aggregate.credential_generation = self.credential_generation
            aggregate.api_key_hash = self.api_key_hash

    def __init__(
        self,
        name: str,
        kind: IntegrationKind,
        endpoint: str | None,
        event_types: list[str],
        allowed_fields: list[str],
        actor: Actor,
        occurred_at: datetime,
    ) -> None:
        self.name = name
        self.kind = IntegrationKind(kind)
        self.endpoint = endpoint
        self.event_types = tuple(event_types)
        self.allowed_fields = tuple(allowed_fields)
        self.requested_by = actor
        self.requested_at = occurred_at
        self.status = IntegrationStatus.PENDING_APPROVAL
        self.approvals: list[Actor] = []
        self.activated_at: datetime | None = None
        self.ended_at: datetime | None = None
        self.ended_reason: str | None = None
        self.credential_generation = 0
        self.api_key_hash: str | None = None

    @property
    def principal(self) -> str:
        return integration_principal(self.id)

    @classmethod
    def request(
        cls,
        *,
        integration_id: UUID,
        name: str,
        kind: IntegrationKind,
        endpoint: str | None,
        event_types: Iterable[str],
        allowed_fields: tuple[str, ...],
        actor: Actor,
        at: datetime,
    ) -> Integration:
        """Record a request. ``allowed_fields`` must already be validated against the
        field catalogue, which belongs to the application layer."""
        check_administrator(actor, "request an integration")
        name = check_text(name, "name", limit=MAX_NAME_LENGTH)
        endpoint = check_endpoint(kind, endpoint)
        types = check_event_types(kind, event_types)
        return cls._create(
            cls.IntegrationRequested,
            id=integration_id,
            name=name,
            kind=kind,
            endpoint=endpoint,
            event_types=list(types),
            allowed_fields=list(allowed_fields),
            actor=actor,
            occurred_at=at,
        )

    # Rule checks.

    def check_status(self, command: str, allowed: IntegrationStatus) -> None:
        if self.status is not allowed:
            raise InvalidTransition(
                f"cannot {command} integration {self.id}: its status is {self.status.value};"
                f" allowed only when {allowed.value}"
            )

    def check_approver(self, actor: Actor, second_factor: bool) -> None:
        """Raise Forbidden unless ``actor`` may add an approval now."""
        check_administrator(actor, "approve an integration")
        if not second_factor:
            raise Forbidden(
                "approving an integration needs a second factor: sign in with OTP and use"
                " a token whose amr claim contains 'otp'"
            )
        if actor.user_id == self.requested_by.user_id:
            raise Forbidden(
                f"user {actor.user_id} requested integration {self.id} and may not approve"
                " it; two other administrators must approve"
            )
        if any(approval.user_id == actor.user_id for approval in self.approvals):
            raise Forbidden(
                f"user {actor.user_id} already approved integration {self.id}; a different"
                " administrator must give the next approval"
            )

    @property
    def approvals_missing(self) -> int:
        return max(0, REQUIRED_APPROVALS - len(self.approvals))

    # Commands.

    def approve(
        self, *, actor: Actor, second_factor: bool, api_key_hash: str, at: datetime
    ) -> bool:
        """Add an approval; return True when it activates the integration.

        ``api_key_hash`` is the hash of the key that the application hands out if this
        approval activates the integration. An approval that does not activate it records
        None in place of the hash.
        """
        self.check_status("approve", IntegrationStatus.PENDING_APPROVAL)
        self.check_approver(actor, second_factor)

        activates = self.approvals_missing == 1
        self.trigger_event(
            self.IntegrationApproved,
            second_factor=second_factor,
            credential_generation=1 if activates else None,
            api_key_hash=api_key_hash if activates else None,
            actor=actor,
            occurred_at=at,
        )
        return activates

    def reject(self, *, reason: str, actor: Actor, at: datetime) -> None:
        self.check_status("reject", IntegrationStatus.PENDING_APPROVAL)
        check_administrator(actor, "reject an integration")
        reason = check_text(reason, "reason", limit=MAX_REASON_LENGTH)
        self.trigger_event(self.IntegrationRejected, reason=reason, actor=actor, occurred_at=at)

    def revoke(self, *, reason: str, actor: Actor, at: datetime) -> None:
        self.check_status("revoke", IntegrationStatus.ACTIVE)
        check_administrator(actor, "revoke an integration")
        reason = check_text(reason, "reason", limit=MAX_REASON_LENGTH)
        self.trigger_event(self.IntegrationRevoked, reason=reason, actor=actor, occurred_at=at)

    def rotate_credentials(
        self, *, actor: Actor, second_factor: bool, api_key_hash: str, at: datetime
    ) -> int:
        """Replace the API key hash and move to the next credential generation; return it."""
        self.check_status("rotate the credentials of", IntegrationStatus.ACTIVE)
        check_administrator(actor, "rotate integration credentials")
        if not second_factor:
            raise Forbidden(
                "rotating integration credentials needs a second factor: use a token whose"
                " amr claim contains 'otp'"
            )
        generation = self.credential_generation + 1
        self.trigger_event(
            self.IntegrationCredentialsRotated,
            credential_generation=generation,
            api_key_hash=api_key_hash,
            actor=actor,
            occurred_at=at,
        )
        return generation


__all__ = [
    "ADMINISTRATOR_ROLES",
    "REQUIRED_APPROVALS",
    "Integration",
    "IntegrationStatus",
    "check_endpoint",
    "check_event_types",
    "complaint_event_types",
    "integration_principal",
]
