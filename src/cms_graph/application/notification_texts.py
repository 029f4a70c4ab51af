"""SMS and WhatsApp messages a complainant receives at each step, in Urdu and English.

Each template is a ``LocalizedText`` with ``str.format`` fields filled from the outbox
row's parameters, which never contain personal data: only the tracking number. SMS texts
are kept short because an Urdu SMS is sent as UCS-2, where one part contains 70
characters (67 when the message is split), against 160 for an English one.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Final

from cms_graph.application.citizen_texts import LocalizedText
from cms_graph.domain.values import Language

HELPLINE: Final = "1787"


class NotificationStep(StrEnum):
    """A step of the complaint's life that the complainant receives a message about."""

    LODGED = "LODGED"
    ASSIGNED = "ASSIGNED"
    ESCALATED = "ESCALATED"
    RESOLVED = "RESOLVED"
    FIR_REGISTERED = "FIR_REGISTERED"
    REOPENED = "REOPENED"
    CLOSED = "CLOSED"
    WITHDRAWN = "WITHDRAWN"


class NotificationChannel(StrEnum):
    SMS = "SMS"
    WHATSAPP = "WHATSAPP"


# Event type names (as stored) and the step each one announces. Acknowledgement is left
# out because the officer has just spoken to the complainant, feedback because the
# complainant gave it, and notes because they are internal working papers.
STEP_OF_EVENT: Final[dict[str, NotificationStep]] = {
    "ComplaintLodged": NotificationStep.LODGED,
    "ComplaintAssigned": NotificationStep.ASSIGNED,
    "ComplaintEscalated": NotificationStep.ESCALATED,
    "ComplaintResolved": NotificationStep.RESOLVED,
    "FirRegistered": NotificationStep.FIR_REGISTERED,
    "ComplaintReopened": NotificationStep.REOPENED,
    "ComplaintClosed": NotificationStep.CLOSED,
    "ComplaintWithdrawn": NotificationStep.WITHDRAWN,
}

MESSAGE_TEMPLATES: Final[dict[NotificationStep, LocalizedText]] = {
    NotificationStep.LODGED: LocalizedText(
        "Punjab Police: your complaint is registered. Tracking no. {tracking_number}."
        " Track it on the complaint portal with this number and your phone, or call"
        f" {HELPLINE}.",
        "پنجاب پولیس: آپ کی شکایت درج کر لی گئی ہے۔ ٹریکنگ نمبر {tracking_number}۔"
        " یہ نمبر اور اپنا فون نمبر شکایت پورٹل پر درج کر کے پیش رفت دیکھیں یا"
        f" {HELPLINE} پر کال کریں۔",
    ),
    NotificationStep.ASSIGNED: LocalizedText(
        "Punjab Police: complaint {tracking_number} has been marked to an officer for inquiry.",
        "پنجاب پولیس: آپ کی شکایت {tracking_number} انکوائری کے لیے افسر کے سپرد کر دی گئی ہے۔",
    ),
    NotificationStep.ESCALATED: LocalizedText(
        "Punjab Police: complaint {tracking_number} has been sent to a senior officer.",
        "پنجاب پولیس: آپ کی شکایت {tracking_number} اعلیٰ افسر کو بھیج دی گئی ہے۔",
    ),
    NotificationStep.RESOLVED: LocalizedText(
        "Punjab Police: action on complaint {tracking_number} is complete. Are you satisfied?"
        " Give feedback on the complaint portal with this number and your phone, or call"
        f" {HELPLINE}.",
        "پنجاب پولیس: آپ کی شکایت {tracking_number} پر کارروائی مکمل ہو گئی ہے۔"
        " کیا آپ مطمئن ہیں؟ اپنی رائے شکایت پورٹل پر یہ نمبر اور اپنا فون نمبر درج کر کے دیں"
        f" یا {HELPLINE} پر کال کریں۔",
    ),
    NotificationStep.FIR_REGISTERED: LocalizedText(
        "Punjab Police: FIR no. {fir_number} has been registered on complaint {tracking_number}.",
        "پنجاب پولیس: آپ کی شکایت {tracking_number} پر ایف آئی آر نمبر {fir_number} درج کر"
        " لی گئی ہے۔",
    ),
    NotificationStep.REOPENED: LocalizedText(
        "Punjab Police: complaint {tracking_number} has been reopened for further inquiry.",
        "پنجاب پولیس: آپ کی شکایت {tracking_number} مزید انکوائری کے لیے دوبارہ کھول دی گئی ہے۔",
    ),
    NotificationStep.CLOSED: LocalizedText(
        "Punjab Police: complaint {tracking_number} has been closed. Thank you.",
        "پنجاب پولیس: آپ کی شکایت {tracking_number} بند کر دی گئی ہے۔ شکریہ۔",
    ),
    NotificationStep.WITHDRAWN: LocalizedText(
        "Punjab Police: complaint {tracking_number} has been withdrawn. If you did not ask for"
        f" this, call {HELPLINE}.",
        "پنجاب پولیس: آپ کی شکایت {tracking_number} واپس لے لی گئی ہے۔ اگر آپ نے ایسا نہیں کہا"
        f" تو {HELPLINE} پر کال کریں۔",
    ),
}


def render_message(
    step: NotificationStep,
    language: Language,
    channel: NotificationChannel,
    parameters: dict[str, str],
) -> str:
    """Return the text for ``step`` in the complaint's language.

    By SMS an Urdu complainant gets Urdu only, because adding English would double the
    parts (and the cost) of every message. By WhatsApp, where length costs nothing, the
    English text follows the Urdu one for readers who prefer it.

    Raises KeyError when ``parameters`` lacks a field the template uses.
    """
    template = MESSAGE_TEMPLATES[step]
    english = template.en.format(**parameters)
    if language is Language.EN:
        return english
    urdu = template.ur.format(**parameters)
    if channel is NotificationChannel.WHATSAPP:
        return f"{urdu}\n\n{english}"
    return urdu


__all__ = [
    "MESSAGE_TEMPLATES",
    "STEP_OF_EVENT",
    "NotificationChannel",
    "NotificationStep",
    "render_message",
]
