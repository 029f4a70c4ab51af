"""GraphQL for FIRs and duplicate lookup: ``convertToFir`` and ``possibleDuplicates``."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated
from uuid import UUID

import strawberry
from starlette.concurrency import run_in_threadpool

from cms_graph.adapters.lookup_index import LookupKind
from cms_graph.application import duplicate_lookup
from cms_graph.application.fir_conversion import ConvertToFir, FirConversionResult
from cms_graph.domain.errors import DomainError, InvalidInput, Unauthenticated
from cms_graph.graphql.context import Info
from cms_graph.graphql.enums import ComplaintCategory, ComplaintStatus, UserErrorCode
from cms_graph.graphql.types import Complaint, UserError, from_global_id, to_global_id

strawberry.enum(LookupKind, description="Which personal detail matched.")


@strawberry.input
class ConvertToFirInput:
    complaint_id: strawberry.ID
    sections: list[str] = strawberry.field(
        description="Sections of law the FIR is registered under, such as 379 PPC; 1 to 20."
    )
    offence_summary: str = strawberry.field(
        description="The offence as the FIR states it; at most 2000 characters."
    )
    police_station_id: strawberry.ID | None = strawberry.field(
        default=None,
        description="The station that registers the FIR; defaults to the complaint's"
        " station, or for an SHO to their own.",
    )


@strawberry.type
class ConvertToFirPayload:
    complaint: Complaint | None = strawberry.field(
        description="The changed complaint; null when the FIR was already linked (nothing"
        " changed) or when the complaint is outside your sight, as for an SHO."
    )
    fir_number: str | None = strawberry.field(
        description="The FIR number from PSRMS; the same one on every repeated call."
    )
    user_errors: list[UserError]


@strawberry.type(description="An earlier complaint of the same complainant.")
class DuplicateMatch:
    complaint_id: strawberry.ID
    tracking_number: str
    status: ComplaintStatus
    category: ComplaintCategory
    lodged_at: datetime
    fir_number: str | None
    matched_by: list[LookupKind]

    @classmethod
    def of(cls, match: duplicate_lookup.DuplicateMatch) -> DuplicateMatch:
        return cls(
            complaint_id=to_global_id("Complaint", match.complaint_id),
            tracking_number=match.tracking_number,
            status=ComplaintStatus(match.status),
            category=ComplaintCategory(match.category),
            lodged_at=match.lodged_at,
            fir_number=match.fir_number,
            matched_by=list(match.matched_by),
        )


def _complaint_key(global_id: str) -> UUID:
    type_name, key = from_global_id(global_id, "complaintId")
    if type_name != "Complaint":
        raise InvalidInput(
            f"complaintId names a {type_name}, not a Complaint", field=("complaintId",)
        )
    return key


def _user_error(error: DomainError) -> UserError:
    return UserError(
        field=["input", *error.field] if error.field else None,
        message=error.message,
        code=UserErrorCode(error.code),
    )


async def convert_to_fir(info: Info, input: ConvertToFirInput) -> ConvertToFirPayload:
    container = info.context.container
    principal = info.context.principal

    def convert() -> FirConversionResult:
        command = ConvertToFir(
            complaint_id=_complaint_key(input.complaint_id),
            sections=tuple(input.sections),
            offence_summary=input.offence_summary,
            police_station_id=str(input.police_station_id) if input.police_station_id else None,
        )
        return container.firs.convert(principal, command)

    try:
        result = await run_in_threadpool(convert)
    except Unauthenticated:
        raise
    except DomainError as error:
        return ConvertToFirPayload(
            complaint=None, fir_number=None, user_errors=[_user_error(error)]
        )

    complaint = None
    if result.registered_now:
        record = await run_in_threadpool(
            lambda: container.queries.get(principal, result.complaint_id, record_denial=False)
        )
        complaint = Complaint.of(record) if record else None
    return ConvertToFirPayload(complaint=complaint, fir_number=result.fir_number, user_errors=[])


async def possible_duplicates(
    info: Info,
    cnic: Annotated[
        str | None, strawberry.argument(description="#####-#######-# or 13 digits.")
    ] = None,
    phone: Annotated[
        str | None, strawberry.argument(description="03XX-XXXXXXX or +92 3XX XXXXXXX.")
    ] = None,
) -> list[DuplicateMatch]:
    principal = info.context.principal
    lookup = info.context.container.duplicates
    matches = await run_in_threadpool(lambda: lookup.find(principal, cnic=cnic, phone=phone))
    return [DuplicateMatch.of(match) for match in matches]


convert_to_fir_field = strawberry.mutation(
    resolver=convert_to_fir,
    description="Register the complaint as an FIR in PSRMS and link the FIR number;"
    " repeating it returns the same number. SHOs of a station in the complaint's unit"
    " and supervisors.",
)
possible_duplicates_field = strawberry.field(
    resolver=possible_duplicates,
    description="Earlier complaints visible to you whose complainant had this CNIC or"
    " phone, newest first, at most 50. Intake staff and supervisors; every lookup is"
    " recorded.",
)

__all__ = [
    "ConvertToFirInput",
    "ConvertToFirPayload",
    "DuplicateMatch",
    "convert_to_fir_field",
    "possible_duplicates_field",
]
