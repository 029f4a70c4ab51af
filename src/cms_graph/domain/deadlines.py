"""Deadline policy and the next deadline of a complaint.

A complaint has one pending step at a time: first contact with the complainant until it
is acknowledged, then a reply until it is resolved. When the step's deadline passes
unattended, the complaint escalates one level, and the next deadline of the same step is
one escalation interval after the missed one, so a complaint nobody touches keeps
climbing at that interval. Deadlines are counted from the missed deadline, not from when
a worker noticed it, so a late worker produces the same sequence of deadlines.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum

from pydantic import TypeAdapter, ValidationError

from cms_graph.domain.errors import InvalidInput
from cms_graph.domain.values import OPEN_STATUSES, ComplaintCategory, ComplaintStatus

# Weeks, days, hours, minutes and seconds only: years and months have no fixed length.
_ISO_DURATION = re.compile(r"P(?!$)(\d+W)?(\d+D)?(T(?=\d)(\d+H)?(\d+M)?(\d+(\.\d+)?S)?)?")
_TIMEDELTA = TypeAdapter(timedelta)


def parse_duration(text: str, field_name: str) -> timedelta:
    """Parse an ISO 8601 duration such as ``PT8H`` or ``P14D``.

    Raises InvalidInput naming ``field_name`` when the text is not such a duration.
    """
    if not isinstance(text, str) or not _ISO_DURATION.fullmatch(text):
        raise InvalidInput(
            f"{field_name} must be an ISO 8601 duration in weeks, days, hours, minutes or "
            f"seconds, such as PT8H or P14D; got {text!r}",
            field=(field_name,),
        )
    try:
        duration = _TIMEDELTA.validate_python(text)
    except ValidationError:
        raise InvalidInput(
            f"{field_name}: cannot read duration {text!r}", field=(field_name,)
        ) from None
    if duration <= timedelta(0):
        raise InvalidInput(
            f"{field_name} must be longer than zero, got {text!r}", field=(field_name,)
        )
    return duration


def format_duration(duration: timedelta) -> str:
    """Write a duration as ISO 8601 in days and seconds, e.g. ``P14D`` or ``PT28800S``."""
    days = duration.days
    seconds = duration.seconds + duration.microseconds / 1_000_000
    text = "P" + (f"{days}D" if days else "")
    if seconds:
        text += "T" + (f"{seconds:g}S")
    return text if text != "P" else "PT0S"


class DeadlineStep(StrEnum):
    FIRST_CONTACT = "FIRST_CONTACT"
    REPLY = "REPLY"


@dataclass(frozen=True)
class DeadlinePlan:
    """The deadlines one complaint is held to, fixed when it is lodged."""

    policy_name: str
    first_contact: timedelta
    reply: timedelta
    escalation_interval: timedelta

    def to_dict(self) -> dict[str, str]:
        return {
            "policy_name": self.policy_name,
            "first_contact": format_duration(self.first_contact),
            "reply": format_duration(self.reply),
            "escalation_interval": format_duration(self.escalation_interval),
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, str]) -> DeadlinePlan:
        return cls(
            policy_name=data["policy_name"],
            first_contact=parse_duration(data["first_contact"], "first_contact"),
            reply=parse_duration(data["reply"], "reply"),
            escalation_interval=parse_duration(data["escalation_interval"], "escalation_interval"),
        )


@dataclass(frozen=True)
class DeadlinePolicy:
    """Deadlines per step, with per-category overrides, and the escalation interval."""

    name: str
    first_contact: timedelta
    reply: timedelta
    escalation_interval: timedelta
    first_contact_by_category: Mapping[ComplaintCategory, timedelta] = field(default_factory=dict)
    reply_by_category: Mapping[ComplaintCategory, timedelta] = field(default_factory=dict)

    def plan_for(self, category: ComplaintCategory) -> DeadlinePlan:
        return DeadlinePlan(
            policy_name=self.name,
            first_contact=self.first_contact_by_category.get(category, self.first_contact),
            reply=self.reply_by_category.get(category, self.reply),
            escalation_interval=self.escalation_interval,
        )


@dataclass(frozen=True)
class Deadline:
    step: DeadlineStep
    due_at: datetime


def next_deadline(
    plan: DeadlinePlan,
    *,
    status: ComplaintStatus,
    opened_at: datetime,
    acknowledged_at: datetime | None,
    escalation_anchor: datetime | None,
) -> Deadline | None:
    """Return the pending step and when it is due, or None when nothing is pending.

    ``opened_at`` is when the complaint was lodged or last reopened;
    ``escalation_anchor`` is the deadline that caused the last escalation (or the time of
    a manual one). A new holder always gets at least one interval from it.
    """
    if status not in OPEN_STATUSES:
        return None
    if acknowledged_at is None:
        step, due_at = DeadlineStep.FIRST_CONTACT, opened_at + plan.first_contact
    else:
        step, due_at = DeadlineStep.REPLY, opened_at + plan.reply
    if escalation_anchor is not None and escalation_anchor >= opened_at:
        due_at = max(due_at, escalation_anchor + plan.escalation_interval)
    return Deadline(step, due_at)


__all__ = [
    "Deadline",
    "DeadlinePlan",
    "DeadlinePolicy",
    "DeadlineStep",
    "format_duration",
    "next_deadline",
    "parse_duration",
]
