"""``cms-graph audit …`` and ``cms-graph replay``: the integrity unit's command line."""

from __future__ import annotations

import sys
from datetime import datetime
from uuid import UUID

import click
from tqdm import tqdm

from cms_graph.application.audit_queries import AuditFilter
from cms_graph.application.audit_verification import AuditVerifier
from cms_graph.application.identity import Principal
from cms_graph.domain.errors import DomainError
from cms_graph.domain.values import Role

# The command line runs on the server with the operator's own access to the database;
# reads it makes are recorded under this identity.
OPERATOR = Principal("cms-graph-cli", Role.INTEGRITY_UNIT, "pb", client_address="local")


@click.group()
def audit() -> None:
    """Check and export the audit record."""


@audit.command("verify")
@click.option("--quiet", is_flag=True, help="Print only the result line.")
def audit_verify(quiet: bool) -> None:
    """Check every stored event against the hash chain; exit 0 only when intact."""
    from cms_graph.cli import _container, _settings

    settings = _settings()
    container = _container(settings)
    try:
        # Link what the workers have not linked yet, so the check covers the whole log.
        container.audit_chain.catch_up()
        verifier = AuditVerifier(
            container.event_store, container.database, settings.audit_signing_key()
        )
        with tqdm(
            total=verifier.total_events(), unit="event", disable=quiet, file=sys.stderr
        ) as bar:

            def advance(position: int) -> None:
                bar.update(position - bar.n)

            report = verifier.verify(progress=advance)
    finally:
        container.close()
    if report.finding is not None:
        click.echo(f"audit verify: {report.finding.describe()}")
        click.echo(f"audit verify: {report.verified} events verified before the break")
        sys.exit(1)
    click.echo(
        f"audit verify: intact: {report.verified} events, {report.checkpoints} signed"
        f" checkpoints, {report.pending} not yet linked"
    )


@audit.command("export")
@click.option("--actor", default=None, help="Only records by this user id.")
@click.option("--complaint", default=None, help="Only records about this complaint id.")
@click.option("--since", type=click.DateTime(), default=None, help="Recorded at or after (UTC).")
def audit_export(actor: str | None, complaint: str | None, since: datetime | None) -> None:
    """Write the audit trail as CSV to standard output."""
    from cms_graph.cli import _container, _settings

    container = _container(_settings())
    try:
        container.audit_trail.catch_up()
        criteria = AuditFilter(
            actor_id=actor,
            complaint_id=UUID(complaint) if complaint else None,
            recorded_after=since.replace(tzinfo=datetime.now().astimezone().tzinfo)
            if since
            else None,
        )
        for chunk in container.audit_queries.export_csv(OPERATOR, criteria):
            click.echo(chunk, nl=False)
    finally:
        container.close()


@click.command("replay")
@click.argument("complaint")
@click.option(
    "--as-of", "as_of", default=None, help="ISO 8601 time, e.g. 2026-12-04T10:00:00+05:00."
)
def replay(complaint: str, as_of: str | None) -> None:
    """Print a complaint's history, as it stood at --as-of or now.

    COMPLAINT is the complaint id or its tracking number.
    """
    from cms_graph.cli import _container, _settings

    moment = None
    if as_of is not None:
        try:
            moment = datetime.fromisoformat(as_of)
        except ValueError:
            raise click.BadParameter(
                f"{as_of!r} is not an ISO 8601 time", param_hint="--as-of"
            ) from None
        if moment.tzinfo is None:
            raise click.BadParameter("give a time zone, e.g. +05:00 or Z", param_hint="--as-of")
    container = _container(_settings())
    try:
        try:
            key = UUID(complaint)
        except ValueError:
            try:
                found = container.complaints.complaint_id_for(complaint)
            except DomainError as error:
                raise click.BadParameter(error.message, param_hint="COMPLAINT") from None
            if found is None:
                raise click.ClickException(
                    f"no complaint has tracking number {complaint}"
                ) from None
            key = found
        container.complaint_projection.catch_up()
        try:
            case = container.case_history.at(OPERATOR, key, as_of=moment)
        except DomainError as error:
            raise click.ClickException(error.message) from None
    finally:
        container.close()
    snapshot = case.snapshot
    for event in case.events:
        actor = event.actor.get("user_id") or event.actor.get("kind")
        reason = f"  reason: {event.reason}" if event.reason else ""
        click.echo(
            f"v{event.version:<3} {event.recorded_at.isoformat()}  {event.event_type:<24}"
            f" by {actor} via {event.channel}  {event.details}{reason}"
        )
    click.echo(
        f"as of version {snapshot.version} ({snapshot.recorded_at.isoformat()}): "
        f"{snapshot.status}, held by {snapshot.holder_rank} {snapshot.unit_id}, level "
        f"{snapshot.escalation_level}, next deadline {snapshot.deadline_step or 'none'} "
        f"{snapshot.due_at.isoformat() if snapshot.due_at else ''}".rstrip()
    )
