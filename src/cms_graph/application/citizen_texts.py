"""Texts a complainant reads, in English and Urdu, keyed by event type and status.

The tracking view shows them now; SMS and WhatsApp notifications will reuse them.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class LocalizedText:
    en: str
    ur: str


EVENT_TEXTS: dict[str, LocalizedText] = {
    "ComplaintLodged": LocalizedText(
        "Your complaint has been registered.",
        "آپ کی شکایت درج کر لی گئی ہے۔",
    ),
    "ComplaintAcknowledged": LocalizedText(
        "An officer has contacted you about your complaint.",
        "آپ کی شکایت کے سلسلے میں افسر نے آپ سے رابطہ کر لیا ہے۔",
    ),
    "ComplaintAssigned": LocalizedText(
        "Your complaint has been marked to an officer for inquiry.",
        "آپ کی شکایت انکوائری کے لیے متعلقہ افسر کے سپرد کر دی گئی ہے۔",
    ),
    "ComplaintEscalated": LocalizedText(
        "Your complaint has been sent to a senior officer.",
        "آپ کی شکایت اعلیٰ افسر کو بھیج دی گئی ہے۔",
    ),
    "ComplaintResolved": LocalizedText(
        "Action on your complaint is complete. Please tell us if you are satisfied.",
        "آپ کی شکایت پر کارروائی مکمل ہو گئی ہے۔ براہ کرم بتائیں کہ کیا آپ مطمئن ہیں۔",
    ),
    "FeedbackRecorded": LocalizedText(
        "Thank you. Your feedback has been recorded.",
        "شکریہ۔ آپ کی رائے درج کر لی گئی ہے۔",
    ),
    "ComplaintReopened": LocalizedText(
        "Your complaint has been reopened.",
        "آپ کی شکایت دوبارہ کھول دی گئی ہے۔",
    ),
    "ComplaintClosed": LocalizedText(
        "Your complaint has been closed.",
        "آپ کی شکایت بند کر دی گئی ہے۔",
    ),
    "FirRegistered": LocalizedText(
        "An FIR has been registered on your complaint. You may collect a free copy at the"
        " police station.",
        "آپ کی شکایت پر ایف آئی آر درج کر لی گئی ہے۔ آپ اس کی مفت نقل تھانے سے حاصل کر سکتے ہیں۔",
    ),
    "ComplaintWithdrawn": LocalizedText(
        "Your complaint has been withdrawn at your request.",
        "آپ کی درخواست پر شکایت واپس لے لی گئی ہے۔",
    ),
}

STATUS_TEXTS: dict[str, LocalizedText] = {
    "LODGED": LocalizedText("Registered", "درج شدہ"),
    "ACKNOWLEDGED": LocalizedText("Officer in contact", "افسر رابطے میں"),
    "ASSIGNED": LocalizedText("Under inquiry", "زیرِ انکوائری"),
    "RESOLVED": LocalizedText(
        "Action complete, awaiting your feedback", "کارروائی مکمل، آپ کی رائے کا انتظار"
    ),
    "CLOSED": LocalizedText("Closed", "بند"),
    "REOPENED": LocalizedText("Reopened", "دوبارہ کھولی گئی"),
    "WITHDRAWN": LocalizedText("Withdrawn", "واپس لی گئی"),
}

# Events shown to a complainant on the tracking view. Notes are internal working papers.
PUBLIC_EVENT_TYPES = frozenset(EVENT_TEXTS)
