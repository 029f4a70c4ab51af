"""Ready-made principals and commands for tests."""

from __future__ import annotations

from cms_graph.application.commands import ComplainantDetails, LodgeComplaint
from cms_graph.application.identity import Principal
from cms_graph.domain.values import Channel, ComplaintCategory, Language, Role

PHONE = "0300-1234567"
NORMALISED_PHONE = "+923001234567"
CNIC = "35202-1234567-1"
NAME = "Ayesha Siddiqa"

SDPO = Principal("sdpo-lahore-c1", Role.SDPO, "pb_lahore-c1")
OTHER_SDPO = Principal("sdpo-lahore-c2", Role.SDPO, "pb_lahore-c2")
MULTAN_DPO = Principal("dpo-multan", Role.DPO, "pb_multan")
LAHORE_DPO = Principal("dpo-lahore", Role.DPO, "pb_lahore")
SHO = Principal("sho-lahore-c1-ps1", Role.SHO, "pb_lahore-c1-ps1")
HELPLINE = Principal("agent-1", Role.HELPLINE_AGENT, "pb")
COMPLAINT_CELL = Principal("cell-1", Role.COMPLAINT_CELL, "pb")
INTEGRATOR = Principal("psrms", Role.INTEGRATOR, "pb")
OFFICER = Principal("inspector-7", Role.SHO, "pb_lahore-c1-ps1")


def lodge_command(
    *,
    channel: Channel = Channel.WEB_PORTAL,
    category: ComplaintCategory = ComplaintCategory.BRIBERY,
    district_id: str = "pb_lahore",
    station_id: str | None = "pb_lahore-c1-ps1",
    phone: str = PHONE,
    cnic: str | None = CNIC,
    name: str = NAME,
    description: str = "The duty officer asked for money to record my statement.",
    language: Language = Language.UR,
) -> LodgeComplaint:
    return LodgeComplaint(
        channel=channel,
        category=category,
        description=description,
        district_id=district_id,
        station_id=station_id,
        language=language,
        complainant=ComplainantDetails(
            name=name, phone=phone, cnic=cnic, address="House 1, Lahore"
        ),
    )
