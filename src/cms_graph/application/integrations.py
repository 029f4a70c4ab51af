"""Integration use cases: request, approve, reject, revoke, rotate credentials, and the
exchange of an integrator's API key for a short-lived token.

Each command loads the aggregate, lets it check its rules, saves the new event and then
runs ``after_commit`` with the notification id, which brings the integrations projection
up to that commit before the command returns. Credentials are generated here, handed
back once in the result, and only the API key's hash reaches the event.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from uuid import UUID, uuid4

from cms_graph.adapters.clock import Clock
from cms_graph.adapters.event_store import ComplaintEventStore
from cms_graph.adapters.integration_store import get_integration, save_aggregate
from cms_graph.adapters.tokens import TokenService
from cms_graph.application.field_limits import validate_fields
from cms_graph.application.identity import AccessPolicy, Principal
from cms_graph.application.integration_credentials import (
    IssuedCredentials,
    api_key_matches,
    derive_signing_secret,
    hash_api_key,
    new_api_key,
)
from cms_graph.application.integration_directory import IntegrationKind
from cms_graph.domain.errors import NotFound, Unauthenticated
from cms_graph.domain.integration import (
    ADMINISTRATOR_ROLES,
    Integration,
    IntegrationStatus,
    integration_principal,
)
from cms_graph.domain.values import Role

logger = logging.getLogger(__name__)

AfterCommit = Callable[[int], None]
# Long enough for a batch of work, short enough that a rotated-away key's last token
# does not live on for long.
# NOTE: a token issued before a rotation stays valid until it expires, because tokens carry
# no credential generation. Revocation stops its use at once: exports check the directory.
INTEGRATOR_TOKEN_LIFETIME = timedelta(minutes=15)


@dataclass(frozen=True)
class IntegrationResult:
    integration_id: UUID
    # Present only when the command issued credentials: the second approval or a rotation.
    credentials: IssuedCredentials | None = None


@dataclass(frozen=True)
class IntegratorToken:
    token: str
    expires_at: datetime
    integration_id: UUID


class IntegrationService:
    def __init__(
        self,
        *,
        event_store: ComplaintEventStore,
        access: AccessPolicy,
        clock: Clock,
        tokens: TokenService,
        server_key: bytes,
        after_commit: AfterCommit = lambda _notification_id: None,
    ) -> None:
        self.event_store = event_store
        self.access = access
        self.clock = clock
        self.tokens = tokens
        self._server_key = server_key
        self.after_commit = after_commit

    def request(
        self,
        principal: Principal,
        *,
        name: str,
        kind: IntegrationKind,
        endpoint: str | None,
        event_types: list[str],
        allowed_fields: list[str],
    ) -> IntegrationResult:
        self.access.require_role(principal, ADMINISTRATOR_ROLES, "request an integration")
        fields = validate_fields(allowed_fields, field=("allowedFields",))
        integration = Integration.request(
            integration_id=uuid4(),
            name=name,
            kind=kind,
            endpoint=endpoint,
            event_types=event_types,
            allowed_fields=fields,
            actor=principal.as_actor(),
            at=self.clock.now(),
        )
        self._save(integration)
        logger.info(
            "integration %s (%s) requested by %s", integration.id, kind.value, principal.user_id
        )
        return IntegrationResult(integration.id)

    def approve(self, principal: Principal, integration_id: UUID) -> IntegrationResult:
        self.access.require_role(principal, ADMINISTRATOR_ROLES, "approve an integration")
        integration = get_integration(self.event_store, integration_id)
        api_key = new_api_key()
        activated = integration.approve(
            actor=principal.as_actor(),
            second_factor=principal.has_second_factor,
            api_key_hash=hash_api_key(api_key),
            at=self.clock.now(),
        )
        self._save(integration)
        if not activated:
            logger.info(
                "integration %s approved by %s; %d more approval(s) needed",
                integration_id,
                principal.user_id,
                integration.approvals_missing,
            )
            return IntegrationResult(integration_id)
        logger.info("integration %s approved by %s and active", integration_id, principal.user_id)
        return IntegrationResult(integration_id, self._credentials(integration, api_key))

    def reject(self, principal: Principal, integration_id: UUID, reason: str) -> IntegrationResult:
        self.access.require_role(principal, ADMINISTRATOR_ROLES, "reject an integration")
        integration = get_integration(self.event_store, integration_id)
        integration.reject(reason=reason, actor=principal.as_actor(), at=self.clock.now())
        self._save(integration)
        logger.info("integration %s rejected by %s", integration_id, principal.user_id)
        return IntegrationResult(integration_id)

    def revoke(self, principal: Principal, integration_id: UUID, reason: str) -> IntegrationResult:
        self.access.require_role(principal, ADMINISTRATOR_ROLES, "revoke an integration")
        integration = get_integration(self.event_store, integration_id)
        integration.revoke(reason=reason, actor=principal.as_actor(), at=self.clock.now())
        self._save(integration)
        logger.info("integration %s revoked by %s", integration_id, principal.user_id)
        return IntegrationResult(integration_id)

    def rotate_credentials(self, principal: Principal, integration_id: UUID) -> IntegrationResult:
        self.access.require_role(principal, ADMINISTRATOR_ROLES, "rotate integration credentials")
        integration = get_integration(self.event_store, integration_id)
        api_key = new_api_key()
        generation = integration.rotate_credentials(
            actor=principal.as_actor(),
            second_factor=principal.has_second_factor,
            api_key_hash=hash_api_key(api_key),
            at=self.clock.now(),
        )
        self._save(integration)
        logger.info(
            "integration %s credentials rotated to generation %d by %s",
            integration_id,
            generation,
            principal.user_id,
        )
        return IntegrationResult(integration_id, self._credentials(integration, api_key))

    def issue_token(
        self, integration_id: UUID, api_key: str, requester: Principal | None = None
    ) -> IntegratorToken:
        """Exchange an active integration's current API key for a short-lived JWT.

        The aggregate is read from the event store rather than the projection, so a key
        stops working the moment its revocation or rotation is committed. Raises
        Unauthenticated, with one message for every cause so that a caller without the
        key learns nothing about the integration.
        """
        try:
            integration: Integration | None = get_integration(self.event_store, integration_id)
        except NotFound:
            integration = None
        valid = (
            integration is not None
            and integration.status is IntegrationStatus.ACTIVE
            and api_key_matches(api_key.strip(), integration.api_key_hash)
        )
        if not valid:
            caller = requester or Principal.anonymous()
            self.access.deny(caller, None, "issueIntegratorToken", "API key rejected")
            logger.info(
                "integrator token rejected for integration %s (status %s)",
                integration_id,
                integration.status.value if integration else "not found",
            )
            raise Unauthenticated(
                f"the API key is not valid for integration {integration_id}: it is wrong, was"
                " replaced by a rotation, or the integration is not active"
            )
        assert integration is not None

        # The root unit covers the province. AccessPolicy keeps the INTEGRATOR role out
        # of the staff queries, so the token reads only through its integration's fields.
        token = self.tokens.issue(
            subject=integration_principal(integration_id),
            role=Role.INTEGRATOR,
            unit_id=self.access.units.root.id,
            lifetime=INTEGRATOR_TOKEN_LIFETIME,
        )
        logger.info("integrator token issued for integration %s", integration_id)
        return IntegratorToken(
            token=token,
            # TokenService stamps tokens with the wall clock, so the expiry follows it.
            expires_at=datetime.now(UTC) + INTEGRATOR_TOKEN_LIFETIME,
            integration_id=integration_id,
        )

    def _credentials(self, integration: Integration, api_key: str) -> IssuedCredentials:
        generation = integration.credential_generation
        return IssuedCredentials(
            api_key=api_key,
            signing_secret=derive_signing_secret(self._server_key, integration.id, generation),
            generation=generation,
        )

    def _save(self, integration: Integration) -> None:
        self.after_commit(save_aggregate(self.event_store, integration))


__all__ = ["IntegrationResult", "IntegrationService", "IntegratorToken"]
