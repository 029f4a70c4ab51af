"""Import complaints with their whole lifecycle from a legacy CSV file.

Each accepted row becomes one ``Complaint`` whose events carry the legacy dates as
``occurred_at``; the library's event ``timestamp`` records the time of the import. The
events of a row are: lodged, the import record, for each assignment date an assignment
(with ``first_acknowledges`` set, the first one also acknowledges), and for a closed case a
resolution and a closure at the closed date. All of them are saved in one transaction, so
a row is either wholly imported or not at all.

The complaint id is derived from the source name and the legacy id, so importing a file
again skips the rows already stored. Rows that cannot be imported go to the rejects file
with their reason, and none of their events are written.
"""

from __future__ import annotations

import logging
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING
from uuid import UUID, uuid5

from cms_graph.adapters.clock import Clock
from cms_graph.adapters.database import Database
from cms_graph.adapters.event_store import ComplaintEventStore
from cms_graph.adapters.import_mapping import ImportMapping
from cms_graph.adapters.legacy_files import (
    LegacyFileError,
    LegacyRow,
    RejectsWriter,
    read_header,
    read_rows,
)
from cms_graph.adapters.tracking_numbers import TrackingNumberIndex
from cms_graph.application.legacy_records import (
    LegacyRecord,
    RecordReader,
    RejectReason,
    RowRejected,
)
from cms_graph.domain.complaint import Complaint
from cms_graph.domain.deadlines import DeadlinePolicy
from cms_graph.domain.errors import Conflict, DomainError, InvalidInput
from cms_graph.domain.ladder import rank_for_level
from cms_graph.domain.tracking_number import new_tracking_number
from cms_graph.domain.units import UnitHierarchy
from cms_graph.domain.values import Actor, ComplaintStatus

if TYPE_CHECKING:
    from cms_graph.bootstrap import Container

logger = logging.getLogger(__name__)

# Fixed forever: complaint ids of imported rows are uuid5(LEGACY_NAMESPACE, "<source>:<id>"),
# and changing it would import every file a second time.
LEGACY_NAMESPACE = UUID("7d0c2a52-3f4e-4b8e-9a61-0e5b2c9d4f17")
DEFAULT_CATCH_UP_EVERY = 500
MAX_SOURCE_LENGTH = 64


def legacy_complaint_id(source: str, legacy_id: str) -> UUID:
    return uuid5(LEGACY_NAMESPACE, f"{source}:{legacy_id}")


def check_source(source: str) -> str:
    """Return ``source`` stripped, or raise InvalidInput unless it is a short name without ':'."""
    name = source.strip()
    if not name or len(name) > MAX_SOURCE_LENGTH or ":" in name:
        raise InvalidInput(
            f"source {source!r} is invalid: use 1 to {MAX_SOURCE_LENGTH} characters without "
            "':', such as copa",
            field=("source",),
        )
    return name


@dataclass(frozen=True)
class ScannedFile:
    """A legacy file checked by ``LegacyImporter.scan``: its data rows and duplicate ids.

    ``duplicates`` maps each legacy id found on more than one row to those row numbers.
    """

    path: Path
    row_count: int
    duplicates: dict[str, list[int]]


@dataclass
class ImportSummary:
    rows: int = 0
    imported: int = 0
    already_imported: int = 0
    rejected: int = 0
    seconds: float = 0.0
    # Part of ``seconds`` spent bringing the projections up to date.
    projection_seconds: float = 0.0
    rejects_by_reason: Counter[str] = field(default_factory=Counter)

    @property
    def rows_per_second(self) -> float:
        return self.rows / self.seconds if self.seconds > 0 else 0.0

    def line(self) -> str:
        return (
            f"imported {self.imported:,}, already imported {self.already_imported:,}, "
            f"rejected {self.rejected:,} of {self.rows:,} rows in {self.seconds:.1f} s "
            f"({self.rows_per_second:,.0f} rows/s; "
            f"projections took {self.projection_seconds:.1f} s)"
        )


class LegacyImporter:
    def __init__(
        self,
        *,
        event_store: ComplaintEventStore,
        tracking_numbers: TrackingNumberIndex,
        database: Database,
        units: UnitHierarchy,
        policy: DeadlinePolicy,
        clock: Clock,
        catch_up: Callable[[], int],
        mapping: ImportMapping,
        source: str | None = None,
        catch_up_every: int = DEFAULT_CATCH_UP_EVERY,
    ) -> None:
        chosen_source = source or mapping.source
        if chosen_source is None:
            raise InvalidInput(
                "no source name: pass one, or set source in the mapping file",
                field=("source",),
            )
        self.source = check_source(chosen_source)
        self.event_store = event_store
        self.tracking_numbers = tracking_numbers
        self.database = database
        self.units = units
        self.policy = policy
        self.clock = clock
        self.catch_up = catch_up
        self.mapping = mapping
        self.records = RecordReader(mapping, units)
        self.catch_up_every = catch_up_every

    @classmethod
    def from_container(
        cls,
        container: Container,
        mapping: ImportMapping,
        *,
        source: str | None = None,
        catch_up_every: int = DEFAULT_CATCH_UP_EVERY,
    ) -> LegacyImporter:
        return cls(
            event_store=container.event_store,
            tracking_numbers=container.tracking_numbers,
            database=container.database,
            units=container.units,
            policy=container.complaints.policy,
            clock=container.clock,
            catch_up=container.catch_up_all,
            mapping=mapping,
            source=source,
            catch_up_every=catch_up_every,
        )

    def scan(self, path: Path) -> ScannedFile:
        """Read the whole file once: check its header, count rows and find duplicate ids.

        Raises LegacyFileError when the header lacks a column the mapping reads, or the
        file is not valid UTF-8 CSV. Nothing is written.
        """
        header = read_header(path)
        missing = [column for column in self.mapping.required_columns() if column not in header]
        if missing:
            raise LegacyFileError(
                f"{path}: the header lacks column(s) {', '.join(missing)} that the mapping "
                f"reads; the header is {','.join(header)}"
            )
        # NOTE: every legacy id is held in memory until the scan ends, about 100 bytes a
        # row (an estimate), so a file of ten million rows needs about a gigabyte here.
        first_rows: dict[str, int] = {}
        duplicates: dict[str, list[int]] = {}
        row_count = 0
        for row in read_rows(path):
            row_count += 1
            legacy_id = self.records.legacy_id(row)
            if not legacy_id:
                continue
            first = first_rows.setdefault(legacy_id, row.number)
            if first != row.number:
                duplicates.setdefault(legacy_id, [first]).append(row.number)
        return ScannedFile(path, row_count, duplicates)

    def run(
        self,
        scanned: ScannedFile,
        rejects_path: Path,
        on_row: Callable[[int], object] = lambda _rows: None,
    ) -> ImportSummary:
        """Import every row of a scanned file; ``on_row(1)`` is called after each row.

        Writes the rejects file (replacing it) and brings the projections up to date
        every ``catch_up_every`` imported rows and at the end.
        """
        logger.info(
            "legacy import of %s (%d rows) from source %s started",
            scanned.path,
            scanned.row_count,
            self.source,
        )
        summary = ImportSummary()
        started = time.perf_counter()
        since_catch_up = 0
        with RejectsWriter(rejects_path) as rejects:
            for row in read_rows(scanned.path):
                summary.rows += 1
                legacy_id = self.records.legacy_id(row)
                try:
                    imported = self._import_row(row, legacy_id, scanned)
                except RowRejected as rejected:
                    rejects.write(row.number, legacy_id, rejected.reason.value, rejected.detail)
                    summary.rejected += 1
                    summary.rejects_by_reason[rejected.reason.value] += 1
                else:
                    if imported:
                        summary.imported += 1
                        since_catch_up += 1
                    else:
                        summary.already_imported += 1
                if since_catch_up >= self.catch_up_every:
                    self._catch_up(summary)
                    since_catch_up = 0
                on_row(1)
        self._catch_up(summary)
        summary.seconds = time.perf_counter() - started
        logger.info("legacy import of %s finished: %s", scanned.path, summary.line())
        if summary.rejected:
            logger.info("rejected rows of %s are listed in %s", scanned.path, rejects_path)
        return summary

    def _catch_up(self, summary: ImportSummary) -> None:
        started = time.perf_counter()
        self.catch_up()
        summary.projection_seconds += time.perf_counter() - started

    def _import_row(self, row: LegacyRow, legacy_id: str, scanned: ScannedFile) -> bool:
        """Import one row; return False when it was already imported.

        Raises RowRejected before anything is written, including the tracking number.
        """
        if row.problem is not None:
            raise RowRejected(RejectReason.INVALID_ROW, row.problem)
        if legacy_id in scanned.duplicates:
            rows = ", ".join(str(number) for number in scanned.duplicates[legacy_id])
            raise RowRejected(
                RejectReason.DUPLICATE_ID, f"legacy id {legacy_id!r} appears on rows {rows}"
            )
        complaint_id = legacy_complaint_id(self.source, legacy_id) if legacy_id else None
        if complaint_id is not None and self._is_stored(complaint_id):
            return False

        imported_at = self.clock.now()
        record = self.records.read(row, imported_at)
        assert complaint_id is not None  # read() rejects a row without an id
        try:
            # A rehearsal with the legacy reference in place of the tracking number, so
            # that a domain error rejects the row before a number is reserved for it.
            legacy_reference = f"{self.source}:{record.legacy_id}"
            self._build(record, complaint_id, legacy_reference, imported_at)
        except DomainError as error:
            raise RowRejected(RejectReason.DOMAIN_ERROR, error.message) from None

        tracking_number = self._reserve_tracking_number(complaint_id, record)
        complaint = self._build(record, complaint_id, tracking_number, imported_at)
        try:
            self.event_store.save_complaint(complaint)
        except Conflict:
            # Another import saved this complaint between the check above and this save.
            return False
        return True

    def _is_stored(self, complaint_id: UUID) -> bool:
        return bool(self.event_store.recorder.select_events(complaint_id, limit=1))

    def _reserve_tracking_number(self, complaint_id: UUID, record: LegacyRecord) -> str:
        """Reserve a number, or reuse the one reserved by an earlier run that stopped
        before saving the row's events."""
        existing = self._reserved_number(complaint_id)
        if existing is not None:
            return existing
        district_code = record.district.code or ""
        # NOTE: two imports of the same file at the same time may both reach this line for
        # one row. The second reservation then violates the unique complaint_id and stops
        # that import with a database error.
        return self.tracking_numbers.reserve(
            complaint_id, lambda: new_tracking_number(district_code)
        )

    def _reserved_number(self, complaint_id: UUID) -> str | None:
        # TrackingNumberIndex looks numbers up only by tracking number, so read its table.
        with self.database.read() as cursor:
            cursor.execute(
                "SELECT tracking_number FROM tracking_numbers WHERE complaint_id = :id",
                {"id": str(complaint_id)},
            )
            row = cursor.fetchone()
        return str(row["tracking_number"]) if row else None

    def _build(
        self, record: LegacyRecord, complaint_id: UUID, tracking_number: str, imported_at: datetime
    ) -> Complaint:
        """Create the complaint and trigger its lifecycle events, without saving them."""
        system = Actor.system()
        channel = self.mapping.channel
        holder_rank = rank_for_level(record.unit.level)
        complaint = Complaint.lodge(
            complaint_id=complaint_id,
            tracking_number=tracking_number,
            category=record.category,
            description=record.description,
            district_id=record.district.id,
            station_id=record.station_id,
            unit_id=record.unit.id,
            incident_at=None,
            language=self.mapping.language,
            # The legacy file has no personal data: an empty seal means "none" to the vault.
            complainant_sealed=b"",
            phone_digest="",
            deadline_plan=self.policy.plan_for(record.category),
            holder_rank=holder_rank,
            actor=system,
            channel=channel,
            occurred_at=record.lodged_at,
        )
        complaint.record_import(source=self.source, reference=record.legacy_id, at=imported_at)

        for number, assigned_at in enumerate(record.assigned_at, start=1):
            if number == 1 and self.mapping.acknowledge_on_first_assignment:
                complaint.acknowledge(
                    note="first investigator assigned in the legacy system",
                    actor=system,
                    channel=channel,
                    at=assigned_at,
                )
            complaint.assign(
                officer_id=self.mapping.officer_id_template.format(n=number),
                unit_id=record.unit.id,
                holder_rank=holder_rank,
                reason=None,
                actor=system,
                channel=channel,
                at=assigned_at,
            )

        if record.closed_at is not None and record.outcome is not None:
            if complaint.status is ComplaintStatus.LODGED:
                # The domain resolves only acknowledged or assigned complaints, and the
                # legacy record has no first-contact date, so contact counts from closure.
                complaint.acknowledge(
                    note="no assignment in the legacy system; acknowledged at closure",
                    actor=system,
                    channel=channel,
                    at=record.closed_at,
                )
            complaint.resolve(
                outcome=record.outcome,
                summary=record.summary,
                actor=system,
                channel=channel,
                at=record.closed_at,
            )
            complaint.close(reason=None, actor=system, channel=channel, at=record.closed_at)
        return complaint


__all__ = [
    "DEFAULT_CATCH_UP_EVERY",
    "LEGACY_NAMESPACE",
    "ImportSummary",
    "LegacyFileError",
    "LegacyImporter",
    "ScannedFile",
    "check_source",
    "legacy_complaint_id",
]
