"""GraphQL for integrations: the two-person approval mutations, credential rotation, the
integrator's token exchange, and the ``integrations`` queries.

No type here exposes an API key hash. The API key and signing secret appear only in the
payload of the mutation that issued them.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from uuid import UUID

import strawberry
from starlette.concurrency import run_in_threadpool

from cms_graph.application.integration_credentials import IssuedCredentials
from cms_graph.application.integration_directory import IntegrationKind
from cms_graph.application.integration_queries import IntegrationRecord
from cms_graph.application.integrations import IntegrationResult
from cms_graph.domain.errors import DomainError, InvalidInput, Unauthenticated
from cms_graph.domain.integration import REQUIRED_APPROVALS, IntegrationStatus
from cms_graph.graphql.context import Info
from cms_graph.graphql.enums import Role, UserErrorCode
from cms_graph.graphql.types import UserError, from_global_id, to_global_id

strawberry.enum(IntegrationKind)
strawberry.enum(IntegrationStatus)


def integration_key(global_id: str) -> UUID:
    """Return the integration's UUID from its global id (or a bare UUID)."""
    type_name, key = from_global_id(global_id, "integrationId")
    # from_global_id reads a bare UUID as a Complaint id; here it names an integration.
    if type_name not in ("Integration", "Complaint"):
        raise InvalidInput(
            f"integrationId names a {type_name}, not an Integration", field=("integrationId",)
        )
    return key


@strawberry.type(description="One administrator's approval of an integration.")
class IntegrationApproval:
    user_id: str | None
    role: Role | None
    unit_id: str | None
    approved_at: datetime


@strawberry.type(
    description="An outside system's access to complaint data. Active only after two"
    " administrators other than the requester approved it with a second factor."
)
class Integration:
    id: strawberry.ID
    name: str
    kind: IntegrationKind
    endpoint: str | None = strawberry.field(description="Webhook URL; null for other kinds.")
    event_types: list[str] = strawberry.field(
        description="Complaint event types the integration receives, such as ComplaintLodged."
    )
    allowed_fields: list[str] = strawberry.field(
        description="Complaint fields the integration may receive or export."
    )
    principal: str = strawberry.field(
        description="The token subject (sub) under which the integrator acts."
    )
    status: IntegrationStatus
    requested_by: str | None
    requested_by_role: Role | None
    requested_at: datetime
    approvals: list[IntegrationApproval]
    approvals_missing: int = strawberry.field(
        description="Approvals still needed before the integration becomes active."
    )
    activated_at: datetime | None
    ended_at: datetime | None = strawberry.field(description="When it was rejected or revoked.")
    ended_by: str | None
    ended_reason: str | None
    credential_generation: int = strawberry.field(
        description="Counts credential issues: 1 on activation, one more per rotation."
    )
    credentials_issued_at: datetime | None

    @classmethod
    def of(cls, record: IntegrationRecord) -> Integration:
        missing = 0
        if record.status is IntegrationStatus.PENDING_APPROVAL:
            missing = max(0, REQUIRED_APPROVALS - len(record.approvals))
        return cls(
            id=to_global_id("Integration", record.id),
            name=record.name,
            kind=record.kind,
            endpoint=record.endpoint,
            event_types=list(record.event_types),
            allowed_fields=list(record.allowed_fields),
            principal=record.principal,
            status=record.status,
            requested_by=record.requested_by,
            requested_by_role=Role(record.requested_by_role) if record.requested_by_role else None,
            requested_at=record.requested_at,
            approvals=[
                IntegrationApproval(
                    user_id=approval.user_id,
                    role=Role(approval.role) if approval.role else None,
                    unit_id=approval.unit_id,
                    approved_at=approval.approved_at,
                )
                for approval in record.approvals
            ],
            approvals_missing=missing,
            activated_at=record.activated_at,
            ended_at=record.ended_at,
            ended_by=record.ended_by,
            ended_reason=record.ended_reason,
            credential_generation=record.credential_generation,
            credentials_issued_at=record.credentials_issued_at,
        )


@strawberry.type(
    description="Shown once, in this payload only: the server keeps a hash of the API key"
    " and can recompute the signing secret, but never shows either again. Rotate to get new"
    " ones. Webhook deliveries are signed with HMAC-SHA256 keyed with the signing secret's"
    " UTF-8 bytes."
)
class IntegrationCredentials:
    api_key: str
    signing_secret: str
    generation: int

    @classmethod
    def of(cls, credentials: IssuedCredentials) -> IntegrationCredentials:
        return cls(
            api_key=credentials.api_key,
            signing_secret=credentials.signing_secret,
            generation=credentials.generation,
        )


@strawberry.type
class IntegrationPayload:
    integration: Integration | None
    user_errors: list[UserError]


@strawberry.type
class RequestIntegrationPayload(IntegrationPayload):
    pass


@strawberry.type
class ApproveIntegrationPayload(IntegrationPayload):
    credentials: IntegrationCredentials | None = strawberry.field(
        description="Set only by the approval that activates the integration."
    )


@strawberry.type
class RejectIntegrationPayload(IntegrationPayload):
    pass


@strawberry.type
class RevokeIntegrationPayload(IntegrationPayload):
    pass


@strawberry.type
class RotateIntegrationCredentialsPayload(IntegrationPayload):
    credentials: IntegrationCredentials | None


@strawberry.type
class IssueIntegratorTokenPayload:
    token: str | None = strawberry.field(
        description="A bearer JWT with role INTEGRATOR and sub integration:<id>."
    )
    expires_at: datetime | None
    user_errors: list[UserError]


@strawberry.input
class RequestIntegrationInput:
    name: str
    kind: IntegrationKind
    allowed_fields: list[str] = strawberry.field(
        description="Complaint fields, as exportComplaints names them."
    )
    endpoint: str | None = strawberry.field(
        default=None, description="http or https URL; WEBHOOK only."
    )
    event_types: list[str] = strawberry.field(
        default_factory=list,
        description="Complaint event types, such as ComplaintLodged; none for EXPORT.",
    )


@strawberry.input
class ApproveIntegrationInput:
    integration_id: strawberry.ID


@strawberry.input
class RejectIntegrationInput:
    integration_id: strawberry.ID
    reason: str


@strawberry.input
class RevokeIntegrationInput:
    integration_id: strawberry.ID
    reason: str


@strawberry.input
class RotateIntegrationCredentialsInput:
    integration_id: strawberry.ID


@strawberry.input
class IssueIntegratorTokenInput:
    integration_id: strawberry.ID
    api_key: str


def user_error(error: DomainError) -> UserError:
    return UserError(
        field=["input", *error.field] if error.field else None,
        message=error.message,
        code=UserErrorCode(error.code),
    )


async def _run(
    info: Info, command: Callable[[], IntegrationResult]
) -> tuple[Integration | None, IntegrationCredentials | None, list[UserError]]:
    """Run an integration use case in a worker thread; return what its payload shows.

    Raises Unauthenticated as a GraphQL error: that is about the request, not the input.
    """
    try:
        result = await run_in_threadpool(command)
    except Unauthenticated:
        raise
    except DomainError as error:
        return None, None, [user_error(error)]
    directory = info.context.container.integration_directory
    record = await run_in_threadpool(directory.get_record, result.integration_id)
    integration = Integration.of(record) if record else None
    credentials = IntegrationCredentials.of(result.credentials) if result.credentials else None
    return integration, credentials, []


@strawberry.type
class IntegrationMutation:
    @strawberry.mutation(description="Request an integration; ADMIN or ADDL_IGP.")
    async def request_integration(
        self, info: Info, input: RequestIntegrationInput
    ) -> RequestIntegrationPayload:
        service = info.context.container.integrations
        integration, _, errors = await _run(
            info,
            lambda: service.request(
                info.context.principal,
                name=input.name,
                kind=IntegrationKind(input.kind),
                endpoint=input.endpoint,
                event_types=list(input.event_types),
                allowed_fields=list(input.allowed_fields),
            ),
        )
        return RequestIntegrationPayload(integration=integration, user_errors=errors)

    @strawberry.mutation(
        description="Approve a pending integration; ADMIN or ADDL_IGP with a second factor,"
        " not the requester. The second approval activates it and returns its credentials."
    )
    async def approve_integration(
        self, info: Info, input: ApproveIntegrationInput
    ) -> ApproveIntegrationPayload:
        service = info.context.container.integrations
        integration, credentials, errors = await _run(
            info,
            lambda: service.approve(info.context.principal, integration_key(input.integration_id)),
        )
        return ApproveIntegrationPayload(
            integration=integration, credentials=credentials, user_errors=errors
        )

    @strawberry.mutation(description="Reject a pending integration, ending the request.")
    async def reject_integration(
        self, info: Info, input: RejectIntegrationInput
    ) -> RejectIntegrationPayload:
        service = info.context.container.integrations
        integration, _, errors = await _run(
            info,
            lambda: service.reject(
                info.context.principal, integration_key(input.integration_id), input.reason
            ),
        )
        return RejectIntegrationPayload(integration=integration, user_errors=errors)

    @strawberry.mutation(
        description="Revoke an active integration; it receives nothing from the next lookup on."
    )
    async def revoke_integration(
        self, info: Info, input: RevokeIntegrationInput
    ) -> RevokeIntegrationPayload:
        service = info.context.container.integrations
        integration, _, errors = await _run(
            info,
            lambda: service.revoke(
                info.context.principal, integration_key(input.integration_id), input.reason
            ),
        )
        return RevokeIntegrationPayload(integration=integration, user_errors=errors)

    @strawberry.mutation(
        description="Issue a new API key and signing secret; the old key stops working at once."
        " ADMIN or ADDL_IGP with a second factor."
    )
    async def rotate_integration_credentials(
        self, info: Info, input: RotateIntegrationCredentialsInput
    ) -> RotateIntegrationCredentialsPayload:
        service = info.context.container.integrations
        integration, credentials, errors = await _run(
            info,
            lambda: service.rotate_credentials(
                info.context.principal, integration_key(input.integration_id)
            ),
        )
        return RotateIntegrationCredentialsPayload(
            integration=integration, credentials=credentials, user_errors=errors
        )

    @strawberry.mutation(
        description="Exchange an active integration's API key for a short-lived bearer token."
    )
    async def issue_integrator_token(
        self, info: Info, input: IssueIntegratorTokenInput
    ) -> IssueIntegratorTokenPayload:
        service = info.context.container.integrations
        requester = info.context.principal_or_anonymous
        try:
            key = integration_key(input.integration_id)
            issued = await run_in_threadpool(service.issue_token, key, input.api_key, requester)
        except DomainError as error:
            return IssueIntegratorTokenPayload(
                token=None, expires_at=None, user_errors=[user_error(error)]
            )
        return IssueIntegratorTokenPayload(
            token=issued.token, expires_at=issued.expires_at, user_errors=[]
        )


@strawberry.type
class IntegrationQuery:
    @strawberry.field(
        description="Integrations, newest request first; ADMIN, ADDL_IGP, IGP or INTEGRITY_UNIT."
    )
    async def integrations(
        self, info: Info, status: list[IntegrationStatus] | None = None
    ) -> list[Integration]:
        directory = info.context.container.integration_directory
        principal = info.context.principal
        statuses = tuple(IntegrationStatus(value) for value in status or ())
        records = await run_in_threadpool(lambda: directory.list_integrations(principal, statuses))
        return [Integration.of(record) for record in records]

    @strawberry.field(description="One integration by id; same roles as integrations.")
    async def integration(self, info: Info, id: strawberry.ID) -> Integration | None:
        directory = info.context.container.integration_directory
        principal = info.context.principal
        key = integration_key(id)
        record = await run_in_threadpool(directory.get, principal, key)
        return Integration.of(record) if record else None


__all__ = ["Integration", "IntegrationMutation", "IntegrationQuery", "integration_key"]
