"""The ``cms-graph`` command line."""

from __future__ import annotations

import logging
import signal
import threading
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING

import click

from cms_graph.settings import Settings, SettingsError, load_settings

if TYPE_CHECKING:
    from cms_graph.bootstrap import Container

logger = logging.getLogger("cms_graph.cli")


def _settings() -> Settings:
    try:
        return load_settings()
    except SettingsError as error:
        raise click.ClickException(str(error)) from None


def _container(settings: Settings) -> Container:
    """Build the container, turning a bad policy or unit file into a one-line error."""
    from cms_graph.adapters.policy_files import PolicyFileError
    from cms_graph.bootstrap import DatabaseUnavailable, build_container
    from cms_graph.domain.errors import InvalidInput

    try:
        return build_container(settings)
    except DatabaseUnavailable as error:
        raise click.ClickException(str(error)) from None
    except PolicyFileError as error:
        raise click.ClickException(f"invalid deadline policy: {error}") from None
    except InvalidInput as error:
        raise click.ClickException(f"invalid unit hierarchy: {error.message}") from None


def _configure_logging(settings: Settings) -> None:
    from cms_graph.logging_setup import configure_logging

    configure_logging(settings.log_level, settings.resolved_log_format)


@click.group()
def main() -> None:
    """Complaint management back end: GraphQL API, workers and tools."""


@main.command()
@click.option("--host", default=None, help="Address to listen on (default: CMS_HOST, 127.0.0.1).")
@click.option("--port", type=int, default=None, help="TCP port (default: CMS_PORT, 8000).")
def serve(host: str | None, port: int | None) -> None:
    """Serve the API; without CMS_BROKER_URL the workers run in this process."""
    import uvicorn

    from cms_graph.demo import seed_demo_complaints
    from cms_graph.web import create_app

    settings = _settings()
    _configure_logging(settings)
    container = _container(settings)
    if settings.demo_data and not settings.is_production:
        seed_demo_complaints(container)
    app = create_app(settings, container=container)
    host = host or settings.host
    port = port or settings.port
    store = "PostgreSQL" if settings.database_url else f"SQLite at {settings.sqlite_path}"
    click.echo(f"cms-graph: event store on {store}", err=True)
    if not settings.is_production:
        click.echo(f"cms-graph: GraphiQL at http://{host}:{port}/graphql", err=True)
    # uvicorn's own loggers go through the handler above. Its access log is off because it
    # writes the query string, which can contain GraphQL variables with personal data, so
    # the request middleware logs each request instead.
    uvicorn.run(
        app,
        host=host,
        port=port,
        log_level=settings.log_level.lower(),
        log_config=None,
        access_log=False,
    )


@main.command()
@click.option("--threads", type=int, default=4, show_default=True, help="Worker threads.")
def worker(threads: int) -> None:
    """Run the Dramatiq workers and the projection follower against CMS_BROKER_URL."""
    from cms_graph.workers.process import connect_broker, start_workers

    settings = _settings()
    _configure_logging(settings)
    if settings.broker_url is None:
        raise click.ClickException(
            "CMS_BROKER_URL is not set; without a broker the workers run inside "
            "'cms-graph serve'. Set it to redis://… or amqp://… to run workers apart."
        )
    container = _container(settings)
    broker = connect_broker(container)
    handle = start_workers(container, broker, threads=threads)
    stopping = threading.Event()
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, lambda *_: stopping.set())
    stopping.wait()
    handle.stop()
    container.close()


@main.command()
@click.option("--sub", required=True, help="User id (the token's subject).")
@click.option("--role", required=True, help="One of the contract's roles, e.g. SDPO.")
@click.option("--unit", required=True, help="Unit id the user belongs to, e.g. pb_lahore-c1.")
@click.option("--mfa", is_flag=True, help="Mark the token as having passed a second factor.")
@click.option(
    "--hours",
    type=click.IntRange(1, 24 * 30),
    default=12,
    show_default=True,
    help="Lifetime in hours (1 to 720).",
)
def token(sub: str, role: str, unit: str, mfa: bool, hours: int) -> None:
    """Print a signed development token on the last line."""
    from cms_graph.adapters.tokens import TokenService
    from cms_graph.adapters.unit_files import load_hierarchy
    from cms_graph.domain.errors import InvalidInput
    from cms_graph.domain.values import Role

    settings = _settings()
    if settings.is_production:
        raise click.ClickException(
            "'cms-graph token' is for development and does not run in production"
        )
    try:
        parsed_role = Role(role)
    except ValueError:
        allowed = ", ".join(r.value for r in Role)
        raise click.BadParameter(
            f"{role!r} is not a role; use one of {allowed}", param_hint="--role"
        ) from None
    units = load_hierarchy(settings.units_file)
    service = TokenService(settings.signing_secret(), issuer=settings.jwt_issuer, units=units)
    try:
        issued = service.issue(
            subject=sub, role=parsed_role, unit_id=unit, mfa=mfa, lifetime=timedelta(hours=hours)
        )
    except InvalidInput as error:
        raise click.BadParameter(error.message, param_hint="--unit") from None
    click.echo(issued)


@main.command()
def migrate() -> None:
    """Create the tables and apply migrations, as the tables' owner, then exit.

    Run it before starting the service as a role without CREATE privilege, with
    CMS_MIGRATE_ON_START=false set for the service.
    """
    from cms_graph.bootstrap import DatabaseUnavailable, migrate_store

    settings = _settings()
    _configure_logging(settings)
    try:
        applied = migrate_store(settings)
    except DatabaseUnavailable as error:
        raise click.ClickException(str(error)) from None
    click.echo(
        f"applied {len(applied)} migrations" + (f": {', '.join(applied)}" if applied else "")
    )


@main.command("schema")
@click.option(
    "--check", is_flag=True, help="Exit 1 if schema/schema.graphql differs from the code."
)
def schema_command(check: bool) -> None:
    """Write the GraphQL SDL to schema/schema.graphql (or check it)."""
    from cms_graph.graphql.schema import export_sdl, sdl_path

    path: Path = sdl_path()
    sdl = export_sdl()
    if check:
        if not path.is_file() or path.read_text(encoding="utf-8") != sdl:
            raise click.ClickException(f"{path} is out of date; run 'cms-graph schema'")
        click.echo(f"{path} matches the code")
        return
    path.write_text(sdl, encoding="utf-8")
    click.echo(f"wrote {path}")


@main.group()
def projections() -> None:
    """Inspect and advance projections."""


@projections.command("status")
@click.option(
    "--max-lag-seconds",
    type=click.FloatRange(min=0, min_open=True),
    default=None,
    help="Exit with status 1 when a projection's lag age exceeds this many seconds.",
)
def projections_status(max_lag_seconds: float | None) -> None:
    """Print each projection's position, lag in events and lag age in seconds.

    The lag age is how long ago the oldest event the projection has not applied was
    recorded: it keeps rising while a projection is stuck or its worker is stopped.
    With --max-lag-seconds, a script or a cron job can use the exit status as a check.
    """
    from cms_graph.health.store import read_store_progress

    container = _container(_settings())
    try:
        database = container.database
        with database.read() as cursor:
            progress = read_store_progress(
                cursor,
                container.event_store,
                database.dialect,
                [runner.name for runner in container.projections],
                datetime.now(UTC),
            )
        for entry in progress:
            click.echo(
                f"{entry.name}: position {entry.position}, lag {entry.lag_events}"
                f" events, {entry.lag_seconds:.1f} s"
            )
    finally:
        container.close()
    if max_lag_seconds is not None:
        behind = [entry.name for entry in progress if entry.lag_seconds > max_lag_seconds]
        if behind:
            raise click.ClickException(
                f"lag age above {max_lag_seconds:g} s in {', '.join(behind)}."
                " Check that the workers are running."
            )


@projections.command("catch-up")
def projections_catch_up() -> None:
    """Apply every pending event to every projection, then exit."""
    container = _container(_settings())
    click.echo(f"applied {container.catch_up_all()} events")
    container.close()


@projections.command("rebuild")
@click.argument("name")
def projections_rebuild(name: str) -> None:
    """Rebuild projection NAME from zero while the live one keeps serving, then switch."""
    from cms_graph.bootstrap import build_projectors
    from cms_graph.cli_progress import progress_bar
    from cms_graph.projections.rebuild import (
        NOT_REBUILDABLE,
        RebuildError,
        rebuild,
        rebuild_refusal,
    )

    if name in NOT_REBUILDABLE:
        raise click.ClickException(rebuild_refusal(name))
    settings = _settings()
    container = _container(settings)
    try:
        projectors = build_projectors(settings, container.units)
        if name not in projectors:
            raise click.BadParameter(_unknown_projection(name, list(projectors)), param_hint="NAME")
        head = container.event_store.recorder.max_notification_id() or 0
        with progress_bar(head, unit="event") as bar:
            try:
                result = rebuild(
                    container.database,
                    container.event_store,
                    projectors[name],
                    data_dir=settings.data_dir,
                    progress=bar.move_to,
                )
            except RebuildError as error:
                raise click.ClickException(str(error)) from None
    finally:
        container.close()
    rate = result.events / result.seconds if result.seconds else 0.0
    click.echo(
        f"rebuilt {result.name}: {result.events} events in {result.seconds:.1f} s"
        f" ({rate:,.0f} events/s), switched over"
    )


def _unknown_projection(name: str, projection_names: list[str]) -> str:
    """Return the error for an unknown NAME: the rebuildable projections and why not the rest."""
    from cms_graph.projections.rebuild import NOT_REBUILDABLE, why_not_rebuildable

    rebuildable = [known for known in projection_names if known not in NOT_REBUILDABLE]
    reasons = [f"  {fixed}: {why_not_rebuildable(fixed)}" for fixed in sorted(NOT_REBUILDABLE)]
    return "\n".join(
        [
            f"{name!r} is not a projection that can be rebuilt."
            f" Use one of {', '.join(rebuildable)}. These cannot be rebuilt:",
            *reasons,
        ]
    )


@main.command("import")
@click.argument(
    "csv_path", metavar="CSV", type=click.Path(exists=True, dir_okay=False, path_type=Path)
)
@click.option(
    "--mapping",
    "mapping_path",
    required=True,
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="TOML file mapping the CSV's columns and values, e.g. imports/copa_cms_lifecycle.toml.",
)
@click.option(
    "--rejects",
    "rejects_path",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="CSV file listing rejected rows (default: CSV with .rejects.csv in place of its suffix).",
)
@click.option(
    "--source", default=None, help="Name of the legacy system (default: the mapping's source)."
)
def import_command(
    csv_path: Path, mapping_path: Path, rejects_path: Path | None, source: str | None
) -> None:
    """Import complaints with their lifecycle from a legacy CSV file; rerunning adds nothing."""
    from cms_graph.adapters.import_mapping import ImportMappingError, load_mapping
    from cms_graph.application.legacy_import import LegacyFileError, LegacyImporter
    from cms_graph.cli_progress import progress_bar
    from cms_graph.domain.errors import InvalidInput

    settings = _settings()
    _configure_logging(settings)
    try:
        mapping = load_mapping(mapping_path)
    except ImportMappingError as error:
        raise click.ClickException(f"invalid mapping: {error}") from None
    rejects_path = rejects_path or csv_path.with_suffix(".rejects.csv")
    container = _container(settings)
    try:
        try:
            importer = LegacyImporter.from_container(container, mapping, source=source)
        except InvalidInput as error:
            raise click.BadParameter(error.message, param_hint="--source") from None
        scanned = importer.scan(csv_path)
        with progress_bar(scanned.row_count, unit="row", description="import") as bar:
            summary = importer.run(scanned, rejects_path, on_row=bar.advance)
    except LegacyFileError as error:
        raise click.ClickException(str(error)) from None
    finally:
        container.close()
    click.echo(summary.line())
    for reason, count in sorted(summary.rejects_by_reason.items()):
        click.echo(f"  rejected {reason}: {count:,}")
    if summary.rejected:
        click.echo(f"rejected rows are listed in {rejects_path}")


@main.command("psrms-standin")
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option("--port", type=int, default=8090, show_default=True, help="TCP port.")
@click.option(
    "--fail-next",
    type=click.IntRange(0),
    default=0,
    help="Fail the first N requests with status 503.",
)
@click.option(
    "--delay-seconds",
    type=click.FloatRange(0, 120, min_open=True),
    default=None,
    help="Hold the first --delay-next requests this long before handling them.",
)
@click.option(
    "--delay-next",
    type=click.IntRange(0),
    default=1,
    show_default=True,
    help="How many requests --delay-seconds delays.",
)
def psrms_standin(
    host: str, port: int, fail_next: int, delay_seconds: float | None, delay_next: int
) -> None:
    """Serve a PSRMS stand-in for development; its FIR numbers are not real.

    Point the API at it with CMS_PSRMS_URL=http://HOST:PORT. POST /_standin/faults sets
    more faults, such as {"failNext": 2} or {"rejectNext": 1, "code": "C", "message": "M"}.
    """
    import uvicorn

    from cms_graph.adapters.psrms_standin import PsrmsStandin, create_standin_app

    settings = _settings()
    _configure_logging(settings)
    standin = PsrmsStandin()
    standin.fail_next(fail_next)
    if delay_seconds is not None:
        standin.delay_next(delay_next, delay_seconds)
    click.echo(f"cms-graph: PSRMS stand-in at http://{host}:{port} (not a real PSRMS)", err=True)
    # The access log is off, as for the API server.
    uvicorn.run(
        create_standin_app(standin),
        host=host,
        port=port,
        log_level=settings.log_level.lower(),
        log_config=None,
        access_log=False,
    )


@main.group("lookup-index")
def lookup_index() -> None:
    """Maintain the CNIC and phone lookup index."""


@lookup_index.command("rebuild")
def lookup_index_rebuild() -> None:
    """Index every complaint with readable personal data under the current CMS_LOOKUP_KEY.

    Run it once after upgrading to a version with the index, and after changing the key.
    """
    from cms_graph.application.duplicate_lookup import reindex_complaints
    from cms_graph.cli_progress import progress_bar

    settings = _settings()
    _configure_logging(settings)
    container = _container(settings)
    try:
        with container.database.read() as cursor:
            cursor.execute("SELECT COUNT(*) AS total FROM complaints_view")
            row = cursor.fetchone()
        total = int(row["total"]) if row else 0
        with progress_bar(total, unit="complaint") as bar:
            indexed = reindex_complaints(
                container.database,
                container.vault,
                container.duplicates.index,
                progress=bar.move_to,
            )
    finally:
        container.close()
    skipped = total - indexed
    note = f"; {skipped} have no readable personal data" if skipped > 0 else ""
    click.echo(f"indexed {indexed} of {total} complaints{note}")


def _register_audit_commands() -> None:
    from cms_graph.cli_audit import audit, replay

    main.add_command(audit)
    main.add_command(replay)


_register_audit_commands()

if __name__ == "__main__":
    main()
