"""Find earlier complaints, and their FIRs, of a complainant by CNIC or phone number.

Intake staff (front desk, helpline) and supervisors run it before lodging, so a citizen
who complained before is not registered twice. SHOs may not: station officers are the
ones most often complained about, and a lookup by phone would tell them who complained.

The search goes through the blind index (``adapters/lookup_index.py``), never through
the sealed personal data, and returns only complaints the caller's units may see. Every
lookup is a read of personal data and leaves an access record: one per complaint shown,
or one without a complaint when nothing matched.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any
from uuid import UUID

from cms_graph.adapters.database import Database
from cms_graph.adapters.lookup_index import ComplainantLookupIndex, LookupKind
from cms_graph.adapters.vault import PersonalDataVault
from cms_graph.application.access_audit import AccessAudit
from cms_graph.application.identity import SUPERVISOR_ROLES, AccessPolicy, Principal
from cms_graph.application.queries import subtree_condition
from cms_graph.domain.errors import InvalidInput
from cms_graph.domain.personal_data import normalise_cnic, normalise_phone
from cms_graph.domain.values import Role

LOOKUP_ROLES = SUPERVISOR_ROLES | {Role.FRONT_DESK, Role.HELPLINE_AGENT}
# Complaints read per query while reindexing.
REINDEX_BATCH_SIZE = 500
# The newest matches first, at most this many. A person with more earlier complaints
# than this is a case for the complaint cell, not the intake desk.
MAX_MATCHES = 50


@dataclass(frozen=True)
class DuplicateMatch:
    complaint_id: UUID
    tracking_number: str
    status: str
    category: str
    lodged_at: datetime
    fir_number: str | None
    matched_by: tuple[LookupKind, ...]


class DuplicateLookup:
    def __init__(
        self,
        database: Database,
        index: ComplainantLookupIndex,
        access: AccessPolicy,
        audit: AccessAudit,
    ) -> None:
        self.database = database
        self.index = index
        self.access = access
        self.audit = audit

    def find(
        self, principal: Principal, *, cnic: str | None = None, phone: str | None = None
    ) -> list[DuplicateMatch]:
        """Return the visible complaints whose complainant had this CNIC or phone.

        Raises InvalidInput naming ``cnic`` or ``phone`` for a malformed value (the
        message never repeats it), or when neither is given.
        """
        self.access.require_role(principal, LOOKUP_ROLES, "look up earlier complaints")
        digests: dict[str, LookupKind] = {}
        if cnic is not None and cnic.strip():
            digests[self.index.digest(LookupKind.CNIC, normalise_cnic(cnic))] = LookupKind.CNIC
        if phone is not None and phone.strip():
            normalised = normalise_phone(phone)
            digests[self.index.digest(LookupKind.PHONE, normalised)] = LookupKind.PHONE
        if not digests:
            raise InvalidInput(
                "pass cnic (#####-#######-#) or phone (03XX-XXXXXXX), or both", field=("cnic",)
            )

        matches = self._select(principal, digests)
        kinds = " and ".join(sorted({kind.value for kind in digests.values()}))
        operation = f"possibleDuplicates by {kinds}"
        if not matches:
            self.audit.personal_data_viewed(principal, None, f"{operation}: no match")
        for match in matches:
            self.audit.personal_data_viewed(principal, match.complaint_id, operation)
        return matches

    def _select(self, principal: Principal, digests: dict[str, LookupKind]) -> list[DuplicateMatch]:
        parameters: dict[str, Any] = {}
        wanted = []
        for number, (digest, kind) in enumerate(digests.items()):
            parameters[f"digest_{number}"] = digest
            parameters[f"kind_{number}"] = kind.value
            wanted.append(f"(l.kind = :kind_{number} AND l.digest = :digest_{number})")
        conditions = ["(" + " OR ".join(wanted) + ")"]
        scope = self.access.scope_path(principal)
        if scope is not None:
            in_scope = subtree_condition("scope", scope, parameters, column="v.unit_path")
            parameters["me"] = principal.user_id
            conditions.append(f"({in_scope} OR v.assigned_officer_id = :me)")
        with self.database.read() as cursor:
            cursor.execute(
                # The conditions are fixed strings; values travel as parameters.
                "SELECT v.complaint_id, v.tracking_number, v.status, v.category, v.lodged_at,"  # noqa: S608
                " v.fir_number, l.kind FROM complainant_lookup l JOIN complaints_view v"
                " ON v.complaint_id = l.complaint_id WHERE "
                + " AND ".join(conditions)
                + " ORDER BY v.lodged_at DESC, v.complaint_id",
                parameters,
            )
            rows = cursor.fetchall()

        matches: dict[str, DuplicateMatch] = {}
        for row in rows:
            key = str(row["complaint_id"])
            kind = LookupKind(row["kind"])
            known = matches.get(key)
            if known is not None:
                kinds = tuple(sorted({*known.matched_by, kind}))
                matches[key] = replace(known, matched_by=kinds)
                continue
            if len(matches) == MAX_MATCHES:
                continue
            matches[key] = DuplicateMatch(
                complaint_id=UUID(key),
                tracking_number=row["tracking_number"],
                status=row["status"],
                category=row["category"],
                lodged_at=row["lodged_at"],
                fir_number=row["fir_number"],
                matched_by=(kind,),
            )
        return list(matches.values())


def reindex_complaints(
    database: Database,
    vault: PersonalDataVault,
    index: ComplainantLookupIndex,
    *,
    progress: Callable[[int], None] = lambda _done: None,
) -> int:
    """Index every complaint whose personal data can still be opened; return how many.

    Each complaint's rows are replaced in one transaction, so this backfills complaints
    lodged before the index existed and moves all rows to a new CMS_LOOKUP_KEY while
    lookups go on. Complaints whose key was shredded, or imported without personal data,
    are skipped. ``progress`` gets the number of complaints read so far.
    """
    indexed = 0
    read = 0
    after = ""
    while True:
        with database.read() as cursor:
            cursor.execute(
                "SELECT complaint_id, complainant_sealed FROM complaints_view"
                " WHERE CAST(complaint_id AS TEXT) > :after"
                " ORDER BY CAST(complaint_id AS TEXT) LIMIT :limit",
                {"after": after, "limit": REINDEX_BATCH_SIZE},
            )
            rows = cursor.fetchall()
        if not rows:
            return indexed
        for row in rows:
            complaint_id = UUID(str(row["complaint_id"]))
            complainant = vault.open(complaint_id, bytes(row["complainant_sealed"]))
            if complainant is not None:
                index.add(complaint_id, complainant, replace=True)
                indexed += 1
        read += len(rows)
        progress(read)
        after = str(rows[-1]["complaint_id"])


__all__ = [
    "LOOKUP_ROLES",
    "MAX_MATCHES",
    "DuplicateLookup",
    "DuplicateMatch",
    "reindex_complaints",
]
