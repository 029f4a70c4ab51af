"""The one place that wires adapters into the application.

``build_container`` turns settings into a ready ``Container``: database, event store,
vault, unit hierarchy, use cases, queries and projection runners. Tests build their own
containers with a SQLite file or a PostgreSQL database and, where time matters, a
``ManualClock``.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta
from urllib.parse import urlsplit

import psycopg

from cms_graph.adapters.clock import Clock, SystemClock
from cms_graph.adapters.database import (
    Database,
    PostgresDatabase,
    SQLiteDatabase,
    connection_failure_text,
)
from cms_graph.adapters.event_store import (
    ComplaintEventStore,
    event_store_env,
    open_event_store,
)
from cms_graph.adapters.lookup_index import ComplainantLookupIndex
from cms_graph.adapters.message_gateways import build_gateways
from cms_graph.adapters.migrations import migrate
from cms_graph.adapters.notification_log import PostgresCommitListener, StoreNotificationLog
from cms_graph.adapters.policy_files import load_policy
from cms_graph.adapters.psrms import PsrmsClient, PsrmsNotConfigured
from cms_graph.adapters.psrms_standin import InProcessPsrmsStandin
from cms_graph.adapters.tokens import TokenService
from cms_graph.adapters.tracking_numbers import TrackingNumberIndex
from cms_graph.adapters.unit_files import load_hierarchy
from cms_graph.adapters.vault import PersonalDataVault
from cms_graph.application.access_audit import AccessAudit
from cms_graph.application.audit_queries import AuditTrailQueries
from cms_graph.application.case_history import CaseHistory
from cms_graph.application.citizen_notifications import (
    CitizenNotificationQueries,
    CitizenNotificationSender,
)
from cms_graph.application.complaints import ComplaintService
from cms_graph.application.duplicate_lookup import DuplicateLookup
from cms_graph.application.escalation_queries import EscalationQueries
from cms_graph.application.escalations import EscalationService
from cms_graph.application.event_feed import EventFeed
from cms_graph.application.exports import ExportService
from cms_graph.application.fir_conversion import FirConversionService
from cms_graph.application.fir_registry import FirRegistry
from cms_graph.application.identity import AccessPolicy
from cms_graph.application.integration_queries import IntegrationQueries
from cms_graph.application.integrations import IntegrationService
from cms_graph.application.queries import ComplaintQueries
from cms_graph.application.subscriptions import ComplaintSubscriptions
from cms_graph.application.webhook_admin import WebhookAdmin
from cms_graph.application.webhook_delivery import RetryPolicy, WebhookSender
from cms_graph.domain.units import UnitHierarchy
from cms_graph.projections.audit_chain import AuditChainProjector
from cms_graph.projections.audit_trail import AuditTrailProjector
from cms_graph.projections.citizen_notifications import (
    CitizenNotificationProjector,
    QueuedNotification,
)
from cms_graph.projections.complaints import ComplaintViewProjector
from cms_graph.projections.escalations import EscalationProjector, ScheduledDeadline
from cms_graph.projections.inline_catch_up import InlineCatchUp
from cms_graph.projections.integrations import IntegrationProjector
from cms_graph.projections.runner import ProjectionRunner, Projector
from cms_graph.projections.webhooks import QueuedDelivery, WebhookProjector
from cms_graph.settings import Settings

logger = logging.getLogger(__name__)


@dataclass
class Container:
    settings: Settings
    clock: Clock
    units: UnitHierarchy
    database: Database
    event_store: ComplaintEventStore
    vault: PersonalDataVault
    tracking_numbers: TrackingNumberIndex
    access: AccessPolicy
    complaints: ComplaintService
    queries: ComplaintQueries
    complaint_projection: ProjectionRunner
    escalations: EscalationService
    escalation_projection: ProjectionRunner
    escalation_queries: EscalationQueries
    audit_chain: ProjectionRunner
    audit_trail: ProjectionRunner
    audit_queries: AuditTrailQueries
    case_history: CaseHistory
    # The notification-log reader behind GraphQL subscriptions, and their access rules.
    event_feed: EventFeed
    subscriptions: ComplaintSubscriptions
    integrations: IntegrationService
    integration_projection: ProjectionRunner
    # The directory of active integrations that senders and exports read.
    integration_directory: IntegrationQueries
    exports: ExportService
    firs: FirConversionService
    duplicates: DuplicateLookup
    citizen_notification_projection: ProjectionRunner
    citizen_notifications: CitizenNotificationSender
    citizen_notification_queries: CitizenNotificationQueries
    webhook_projection: ProjectionRunner
    webhook_sender: WebhookSender
    webhook_admin: WebhookAdmin
    # Called after each commit, after the read model caught up; the worker setup uses it
    # to send the catch-up message for the other projections.
    commit_listeners: list[Callable[[int], None]] = field(default_factory=list)
    # Called with deadlines the escalation projection set, once committed; the worker
    # setup uses it to schedule a Dramatiq message for each.
    deadline_listeners: list[Callable[[list[ScheduledDeadline]], None]] = field(
        default_factory=list
    )
    # Called with the outbox rows the notification projection added, once committed.
    # The worker setup uses it to send a Dramatiq message for each.
    notification_listeners: list[Callable[[list[QueuedNotification]], None]] = field(
        default_factory=list
    )
    # Called with webhook deliveries that are ready to send: new rows once committed,
    # and replayed ones; the worker setup sends a Dramatiq message for each.
    webhook_listeners: list[Callable[[list[QueuedDelivery]], None]] = field(default_factory=list)

    def __post_init__(self) -> None:
        self._complaint_catch_up = InlineCatchUp(self.complaint_projection)

    @property
    def projections(self) -> list[ProjectionRunner]:
        return [
            self.complaint_projection,
            self.escalation_projection,
            self.audit_chain,
            self.audit_trail,
            self.integration_projection,
            self.citizen_notification_projection,
            self.webhook_projection,
        ]

    def notifications_created(self, notifications: list[QueuedNotification]) -> None:
        """Tell the listeners about new outbox rows; a failure is left to the sweep."""
        for listener in self.notification_listeners:
            try:
                listener(notifications)
            except Exception as error:
                logger.warning(
                    "announcing %d notifications failed: %s; the periodic sweep sends them",
                    len(notifications),
                    error,
                )

    def deadlines_scheduled(self, deadlines: list[ScheduledDeadline]) -> None:
        for listener in self.deadline_listeners:
            listener(deadlines)

    def catch_up_all(self) -> int:
        return sum(runner.catch_up() for runner in self.projections)

    def after_commit(self, notification_id: int) -> None:
        """Bring the complaint view up to this commit and tell the listeners.

        The events are already stored, so nothing here may fail the command: a failure
        is logged, and the workers' follower and sweep catch up later.
        """
        # Read-your-writes: the complaint view includes this commit before the mutation
        # returns. Running it here is safe beside the workers, because batches take turns,
        # and concurrent commands of this process share one thread's batches.
        self._complaint_catch_up.wait_for(notification_id)
        for listener in self.commit_listeners:
            try:
                listener(notification_id)
            except Exception as error:
                logger.warning(
                    "after notification %d, %s failed: %s; the follower catches up instead",
                    notification_id,
                    getattr(listener, "__name__", "a commit listener"),
                    error,
                )

    def after_integration_commit(self, notification_id: int) -> None:
        """Bring the integrations projection up to this commit, then run ``after_commit``.

        A revocation must reach the directory before the mutation returns, so a failure
        here is logged as an error. The projection follower retries at its next wake-up.
        """
        try:
            self.integration_projection.catch_up(until=notification_id)
        except Exception:
            logger.exception(
                "inline integrations catch-up after notification %d failed", notification_id
            )
        self.after_commit(notification_id)

    def deadlines_scheduled_safely(self, deadlines: list[ScheduledDeadline]) -> None:
        try:
            self.deadlines_scheduled(deadlines)
        except Exception as error:
            logger.warning(
                "scheduling %d deadlines failed: %s; the periodic sweep covers them",
                len(deadlines),
                error,
            )

    def webhooks_queued_safely(self, deliveries: list[QueuedDelivery]) -> None:
        try:
            for listener in self.webhook_listeners:
                listener(deliveries)
        except Exception as error:
            logger.warning(
                "sending %d webhook deliveries failed: %s; the periodic sweep covers them",
                len(deliveries),
                error,
            )

    def close(self) -> None:
        self.firs.registry.close()
        self.citizen_notifications.close()
        self.event_store.close()
        self.database.close()


class DatabaseUnavailable(Exception):
    """Raised at start when the configured PostgreSQL server or database cannot be reached."""


def check_postgres(url: str, timeout_seconds: int = 5) -> None:
    """Connect once, so a wrong URL fails at start with the server's own words."""
    parts = urlsplit(url)
    where = f"{parts.hostname or '127.0.0.1'}:{parts.port or 5432}/{parts.path.lstrip('/')}"
    try:
        psycopg.connect(url, connect_timeout=timeout_seconds).close()
    except psycopg.OperationalError as error:
        raise DatabaseUnavailable(
            f"cannot connect to PostgreSQL at {where}: {connection_failure_text(error)}"
            " Check CMS_DATABASE_URL. If the database does not exist, create it first"
            " (createdb)."
        ) from None


def open_database(settings: Settings) -> Database:
    if settings.database_url:
        check_postgres(settings.database_url)
        return PostgresDatabase(settings.database_url)
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    return SQLiteDatabase(settings.sqlite_path)


def build_projectors(settings: Settings, units: UnitHierarchy) -> dict[str, Projector]:
    """Return a fresh projector of each projection, by name; rebuilds start from these."""
    projectors: list[Projector] = [
        ComplaintViewProjector(units),
        EscalationProjector(units),
        AuditChainProjector(settings.audit_signing_key()),
        AuditTrailProjector(),
        IntegrationProjector(),
        CitizenNotificationProjector(whatsapp_enabled=settings.whatsapp_enabled),
        WebhookProjector(),
    ]
    return {projector.name: projector for projector in projectors}


def create_schema(
    database: Database, vault: PersonalDataVault, tracking_numbers: TrackingNumberIndex
) -> list[str]:
    """Create every table and apply every migration; return the migrations applied.

    Runs after the event store has created its table: the migrations protect and grant it.
    """
    vault.create_tables()
    tracking_numbers.create_tables()
    return migrate(database, event_log=True)


def migrate_store(settings: Settings) -> list[str]:
    """Create the event store's table and every other table, as their owner."""
    database = open_database(settings)
    try:
        store = open_event_store(
            event_store_env(
                database_url=settings.database_url, sqlite_path=str(settings.sqlite_path)
            )
        )
        store.close()
        return create_schema(database, PersonalDataVault(database), TrackingNumberIndex(database))
    finally:
        database.close()


def open_fir_registry(settings: Settings) -> FirRegistry:
    """Return the PSRMS client for CMS_PSRMS_URL. Without it, development gets the
    in-process stand-in and production a registry that rejects every FIR."""
    if settings.psrms_url:
        return PsrmsClient(settings.psrms_url, timeout_seconds=settings.psrms_timeout_seconds)
    if settings.is_production:
        logger.warning("CMS_PSRMS_URL is not set: convertToFir fails until it is")
        return PsrmsNotConfigured()
    return InProcessPsrmsStandin()


def build_container(
    settings: Settings, *, clock: Clock | None = None, fir_registry: FirRegistry | None = None
) -> Container:
    clock = clock or SystemClock()
    units = load_hierarchy(settings.units_file)
    database = open_database(settings)
    event_store = open_event_store(
        event_store_env(
            database_url=settings.database_url,
            sqlite_path=str(settings.sqlite_path),
            create_table=settings.migrate_on_start,
        )
    )
    vault = PersonalDataVault(database)
    tracking_numbers = TrackingNumberIndex(database)
    if settings.migrate_on_start:
        create_schema(database, vault, tracking_numbers)
    access = AccessPolicy(units)
    projectors = build_projectors(settings, units)

    def runner(name: str) -> ProjectionRunner:
        return ProjectionRunner(
            database, event_store, projectors[name], batch_size=settings.projection_batch_size
        )

    complaint_projection = runner("complaints")
    escalation_projection = runner("escalations")
    audit_chain = runner("audit_chain")
    escalations = EscalationService(
        event_store=event_store, database=database, units=units, clock=clock
    )
    audit = AccessAudit(event_store, clock)
    access.on_denied = audit.access_denied
    lookup_index = ComplainantLookupIndex(database, settings.lookup_index_key())
    firs = FirConversionService(
        event_store=event_store,
        vault=vault,
        registry=fir_registry or open_fir_registry(settings),
        access=access,
        clock=clock,
        audit=audit,
    )
    complaints = ComplaintService(
        event_store=event_store,
        vault=vault,
        tracking_numbers=tracking_numbers,
        access=access,
        clock=clock,
        policy=load_policy(settings.sla_policy),
        audit=audit,
        lookup_index=lookup_index,
    )
    tokens = TokenService(settings.signing_secret(), issuer=settings.jwt_issuer, units=units)
    integration_directory = IntegrationQueries(database, access, settings.integration_signing_key())
    integrations = IntegrationService(
        event_store=event_store,
        access=access,
        clock=clock,
        tokens=tokens,
        server_key=settings.integration_signing_key(),
    )
    queries = ComplaintQueries(database, access, vault, clock, audit)
    exports = ExportService(
        queries=queries,
        access=access,
        vault=vault,
        directory=integration_directory,
        event_store=event_store,
        clock=clock,
        staff_fields=settings.export_fields,
        max_rows=settings.export_max_rows,
    )
    event_feed = EventFeed(
        StoreNotificationLog(event_store),
        poll_seconds=settings.projection_poll_seconds,
        queue_size=settings.subscription_queue_size,
        commit_listener=(
            PostgresCommitListener(
                settings.database_url, retry_seconds=settings.projection_poll_seconds
            )
            if settings.database_url
            else None
        ),
    )
    citizen_notifications = CitizenNotificationSender(
        database=database,
        event_store=event_store,
        vault=vault,
        gateways=build_gateways(settings),
        clock=clock,
        max_attempts=settings.notification_max_attempts,
        claim_timeout=timedelta(seconds=settings.notification_claim_timeout_seconds),
        max_age=timedelta(hours=settings.notification_max_age_hours),
    )
    container = Container(
        settings=settings,
        clock=clock,
        units=units,
        database=database,
        event_store=event_store,
        vault=vault,
        tracking_numbers=tracking_numbers,
        access=access,
        complaints=complaints,
        queries=queries,
        complaint_projection=complaint_projection,
        escalations=escalations,
        escalation_projection=escalation_projection,
        escalation_queries=EscalationQueries(database, access),
        audit_chain=audit_chain,
        audit_trail=runner("audit_trail"),
        audit_queries=AuditTrailQueries(database, access),
        case_history=CaseHistory(event_store, database, access),
        event_feed=event_feed,
        subscriptions=ComplaintSubscriptions(
            queries,
            access,
            lambda position: complaint_projection.catch_up(until=position),
            lambda: container.integration_directory,
            clock,
        ),
        integrations=integrations,
        integration_projection=runner("integrations"),
        integration_directory=integration_directory,
        exports=exports,
        firs=firs,
        duplicates=DuplicateLookup(database, lookup_index, access, audit),
        citizen_notification_projection=runner("citizen_notifications"),
        citizen_notifications=citizen_notifications,
        citizen_notification_queries=CitizenNotificationQueries(database, queries),
        webhook_projection=runner("webhooks"),
        webhook_sender=WebhookSender(
            database,
            vault,
            lambda: container.integration_directory,
            clock,
            RetryPolicy(
                max_attempts=settings.webhook_max_retries + 1,
                min_backoff_ms=settings.webhook_min_backoff_ms,
                max_backoff_ms=settings.webhook_max_backoff_ms,
                timeout_seconds=settings.webhook_timeout_seconds,
            ),
        ),
        webhook_admin=WebhookAdmin(database, event_store, access, clock),
    )
    # A commit in this process wakes the feed at once, on SQLite as well.
    container.commit_listeners.append(event_feed.wake)
    complaints.after_commit = container.after_commit
    firs.after_commit = container.after_commit
    escalations.after_commit = container.after_commit
    audit.after_commit = container.after_commit
    integrations.after_commit = container.after_integration_commit
    exports.after_commit = container.after_commit
    escalation_projector = projectors["escalations"]
    assert isinstance(escalation_projector, EscalationProjector)
    escalation_projector.set_schedule(container.deadlines_scheduled_safely)
    notification_projector = projectors["citizen_notifications"]
    assert isinstance(notification_projector, CitizenNotificationProjector)
    notification_projector.set_on_created(container.notifications_created)
    webhook_projector = projectors["webhooks"]
    assert isinstance(webhook_projector, WebhookProjector)
    webhook_projector.set_directory(lambda: container.integration_directory)
    webhook_projector.set_on_queued(container.webhooks_queued_safely)
    container.webhook_admin.after_commit = container.after_commit
    container.webhook_admin.on_replayed = container.webhooks_queued_safely
    logger.info(
        "container ready: store=%s, units=%d",
        "postgres" if settings.database_url else "sqlite",
        len(units),
    )
    return container


__all__ = ["Container", "build_container", "open_database"]
