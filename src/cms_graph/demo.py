"""A few demo complaints for a fresh development store, so GraphiQL has data to show."""

from __future__ import annotations

import logging

from cms_graph.application.commands import ComplainantDetails, LodgeComplaint
from cms_graph.application.identity import Principal
from cms_graph.bootstrap import Container
from cms_graph.domain.values import Channel, ComplaintCategory, Language, Outcome, Role

logger = logging.getLogger(__name__)

# Invented people with well-formed but fictitious CNICs and phone numbers.
_DEMO_COMPLAINTS = [
    LodgeComplaint(
        channel=Channel.WEB_PORTAL,
        category=ComplaintCategory.NON_REGISTRATION_OF_FIR,
        description="The station refused to register an FIR about a stolen motorcycle.",
        district_id="pb_lahore",
        station_id="pb_lahore-c1-ps1",
        language=Language.EN,
        complainant=ComplainantDetails(
            name="Demo Complainant One", phone="0300-0000001", cnic="35202-0000000-1"
        ),
    ),
    LodgeComplaint(
        channel=Channel.FRONT_DESK,
        category=ComplaintCategory.BRIBERY,
        description="ایک اہلکار نے ضمانت کے کاغذات کے لیے رشوت مانگی۔",
        district_id="pb_lahore",
        station_id="pb_lahore-c2-ps1",
        language=Language.UR,
        complainant=ComplainantDetails(name="نمونہ شکایت کنندہ", phone="0300-0000002"),
    ),
    LodgeComplaint(
        channel=Channel.SHORT_CODE_VOICE,
        category=ComplaintCategory.ILLEGAL_DETENTION,
        description="A relative has been held at the station for three days without charge.",
        district_id="pb_multan",
        station_id="pb_multan-c1-ps2",
        language=Language.UR,
        complainant=ComplainantDetails(name="Demo Complainant Three", phone="0300-0000003"),
    ),
]

DEMO_FRONT_DESK = Principal("demo-front-desk", Role.HELPLINE_AGENT, "pb")
DEMO_SDPO = Principal("demo-sdpo-lahore-c1", Role.SDPO, "pb_lahore-c1")


def seed_demo_complaints(container: Container) -> int:
    """Lodge the demo complaints if the store is empty; return how many were lodged."""
    if container.event_store.recorder.max_notification_id():
        return 0
    results = [
        container.complaints.lodge(DEMO_FRONT_DESK, complaint) for complaint in _DEMO_COMPLAINTS
    ]
    first = results[0].complaint_id
    container.complaints.acknowledge(DEMO_SDPO, first, "Spoke to the complainant by phone.")
    container.complaints.assign(
        DEMO_SDPO, first, officer_id="demo-inspector-1", unit_id="pb_lahore-c1", reason=None
    )
    container.complaints.resolve(
        DEMO_SDPO, first, outcome=Outcome.FIR_REGISTERED, summary="FIR registered after inquiry."
    )
    logger.info("lodged %d demo complaints", len(results))
    return len(results)
