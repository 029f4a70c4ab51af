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
from urllib.parse import urlsplit

import psycopg

from cms_graph.adapters.clock import Clock, SystemClock
from cms_graph.adapters.database import Database, PostgresDatabase, SQLiteDatabase
from cms_graph.adapters.event_store import (
    ComplaintEventStore,
    event_store_env,
    open_event_store,
)
from cms_graph.adapters.migrations import migrate
from cms_graph.adapters.policy_files import load_policy
from cms_graph.adapters.tracking_numbers import TrackingNumberIndex
from cms_graph.adapters.unit_files import load_hierarchy
from cms_graph.adapters.vault import PersonalDataVault
from cms_graph.application.access_audit import AccessAudit
from cms_graph.application.audit_queries import AuditTrailQueries
from cms_graph.application.case_history import CaseHistory
from cms_graph.application.complaints import ComplaintService
from cms_graph.application.escalation_queries import EscalationQueries
from cms_graph.application.escalations import EscalationService
from cms_graph.application.identity import AccessPolicy
from cms_graph.application.queries import ComplaintQueries
from cms_graph.domain.units import UnitHierarchy
from cms_graph.projections.audit_chain import AuditChainProjector
from cms_graph.projections.audit_trail import AuditTrailProjector
from cms_graph.projections.complaints import ComplaintViewProjector
from cms_graph.projections.escalations import EscalationProjector, ScheduledDeadline
from cms_graph.projections.inline_catch_up import InlineCatchUp
from cms_graph.projections.runner import ProjectionRunner, Projector
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
    # Called after each commit, after the read model caught up; the worker setup uses it
    # to send the catch-up message for the other projections.
    commit_listeners: list[Callable[[int], None]] = field(default_factory=list)
    # Called with deadlines the escalation projection set, once committed; the worker
    # setup uses it to schedule a Dramatiq message for each.
    deadline_listeners: list[Callable[[list[ScheduledDeadline]], None]] = field(
        default_factory=list
    )

    def __post_init__(self) -> None:
        self._complaint_catch_up = InlineCatchUp(self.complaint_projection)

    @property
    def projections(self) -> list[ProjectionRunner]:
        return [
            self.complaint_projection,
            self.escalation_projection,
            self.audit_chain,
            self.audit_trail,
        ]

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

    def deadlines_scheduled_safely(self, deadlines: list[ScheduledDeadline]) -> None:
        try:
            self.deadlines_scheduled(deadlines)
        except Exception as error:
            logger.warning(
                "scheduling %d deadlines failed: %s; the periodic sweep covers them",
                len(deadlines),
                error,
            )

    def close(self) -> None:
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
        detail = str(error).strip().splitlines()[-1] if str(error).strip() else type(error).__name__
        raise DatabaseUnavailable(
            f"cannot connect to PostgreSQL at {where}: {detail}. Check CMS_DATABASE_URL;"
            " create the database first if it does not exist (createdb)."
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


def build_container(settings: Settings, *, clock: Clock | None = None) -> Container:
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
    complaints = ComplaintService(
        event_store=event_store,
        vault=vault,
        tracking_numbers=tracking_numbers,
        access=access,
        clock=clock,
        policy=load_policy(settings.sla_policy),
        audit=audit,
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
        queries=ComplaintQueries(database, access, vault, clock, audit),
        complaint_projection=complaint_projection,
        escalations=escalations,
        escalation_projection=escalation_projection,
        escalation_queries=EscalationQueries(database, access),
        audit_chain=audit_chain,
        audit_trail=runner("audit_trail"),
        audit_queries=AuditTrailQueries(database, access),
        case_history=CaseHistory(event_store, database, access),
    )
    complaints.after_commit = container.after_commit
    escalations.after_commit = container.after_commit
    audit.after_commit = container.after_commit
    escalation_projector = projectors["escalations"]
    assert isinstance(escalation_projector, EscalationProjector)
    escalation_projector.set_schedule(container.deadlines_scheduled_safely)
    logger.info(
        "container ready: store=%s, units=%d",
        "postgres" if settings.database_url else "sqlite",
        len(units),
    )
    return container


__all__ = ["Container", "build_container", "open_database"]
