"""Deadline arithmetic, the ladder, and the policy file."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from cms_graph.adapters.policy_files import PolicyFileError, load_policy, parse_policy
from cms_graph.adapters.unit_files import build_demo_hierarchy
from cms_graph.domain.deadlines import (
    DeadlinePlan,
    DeadlineStep,
    format_duration,
    next_deadline,
    parse_duration,
)
from cms_graph.domain.errors import InvalidInput
from cms_graph.domain.ladder import Holder, Rank, next_holder, outranks, rank_for_level
from cms_graph.domain.units import UnitLevel
from cms_graph.domain.values import ComplaintCategory, ComplaintStatus, Role

T0 = datetime(2026, 12, 31, 20, tzinfo=UTC)
PLAN = DeadlinePlan("test", timedelta(hours=8), timedelta(days=1), timedelta(days=7))


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("PT8H", timedelta(hours=8)),
        ("P14D", timedelta(days=14)),
        ("PT5S", timedelta(seconds=5)),
        ("P1W", timedelta(days=7)),
        ("P1DT2H30M", timedelta(days=1, hours=2, minutes=30)),
    ],
)
def test_parse_duration_accepts(text: str, expected: timedelta) -> None:
    assert parse_duration(text, "reply") == expected


@pytest.mark.parametrize("text", ["P1M", "P1Y", "8h", "P", "PT", "PT0S", "-PT1H", ""])
def test_parse_duration_rejects(text: str) -> None:
    with pytest.raises(InvalidInput) as raised:
        parse_duration(text, "reply.default")
    assert raised.value.field == ("reply.default",)


def test_duration_round_trip() -> None:
    for duration in (timedelta(hours=8), timedelta(days=14), timedelta(seconds=2.5)):
        assert parse_duration(format_duration(duration), "x") == duration


def test_first_contact_pending_until_acknowledged() -> None:
    deadline = next_deadline(
        PLAN,
        status=ComplaintStatus.LODGED,
        opened_at=T0,
        acknowledged_at=None,
        escalation_anchor=None,
    )
    assert deadline is not None
    assert deadline.step is DeadlineStep.FIRST_CONTACT
    assert deadline.due_at == T0 + timedelta(hours=8)


def test_reply_counts_from_opening() -> None:
    deadline = next_deadline(
        PLAN,
        status=ComplaintStatus.ASSIGNED,
        opened_at=T0,
        acknowledged_at=T0 + timedelta(hours=1),
        escalation_anchor=None,
    )
    assert deadline is not None
    assert deadline.step is DeadlineStep.REPLY
    assert deadline.due_at == T0 + timedelta(days=1)


def test_escalation_gives_new_holder_an_interval() -> None:
    anchor = T0 + timedelta(hours=8)
    deadline = next_deadline(
        PLAN,
        status=ComplaintStatus.LODGED,
        opened_at=T0,
        acknowledged_at=None,
        escalation_anchor=anchor,
    )
    assert deadline is not None
    assert deadline.due_at == anchor + timedelta(days=7)


def test_anchor_before_reopen_ignored() -> None:
    reopened = T0 + timedelta(days=30)
    deadline = next_deadline(
        PLAN,
        status=ComplaintStatus.REOPENED,
        opened_at=reopened,
        acknowledged_at=None,
        escalation_anchor=T0 + timedelta(days=3),
    )
    assert deadline is not None
    assert deadline.due_at == reopened + timedelta(hours=8)


@pytest.mark.parametrize(
    "status", [ComplaintStatus.RESOLVED, ComplaintStatus.CLOSED, ComplaintStatus.WITHDRAWN]
)
def test_no_deadline_when_not_open(status: ComplaintStatus) -> None:
    assert (
        next_deadline(
            PLAN, status=status, opened_at=T0, acknowledged_at=None, escalation_anchor=None
        )
        is None
    )


def test_ladder_climbs_to_igp() -> None:
    units = build_demo_hierarchy()
    holder: Holder | None = Holder("pb_lahore-c1", Rank.CIRCLE)
    climbed = []
    while holder is not None:
        climbed.append((holder.unit_id, holder.rank))
        holder = next_holder(units, holder.unit_id, holder.rank)
    assert climbed == [
        ("pb_lahore-c1", Rank.CIRCLE),
        ("pb_lahore", Rank.DISTRICT),
        ("pb-rgn-lahore", Rank.REGION),
        ("pb", Rank.ADDL_IGP),
        ("pb", Rank.IGP),
    ]


def test_station_maps_to_circle_rank() -> None:
    assert rank_for_level(UnitLevel.POLICE_STATION) is Rank.CIRCLE
    assert rank_for_level(UnitLevel.PROVINCE) is Rank.ADDL_IGP


def test_outranks_ladder_roles() -> None:
    assert outranks(Role.DPO, Role.SDPO)
    assert not outranks(Role.SDPO, Role.SDPO)
    assert outranks(Role.SDPO, Role.SHO)
    assert not outranks(Role.COMPLAINT_CELL, Role.SHO)


def test_default_policy_published_deadlines() -> None:
    policy = load_policy(None)
    assert policy.plan_for(ComplaintCategory.BRIBERY).reply == timedelta(hours=24)
    assert policy.plan_for(ComplaintCategory.ILLEGAL_DETENTION).reply == timedelta(hours=24)
    assert policy.plan_for(ComplaintCategory.NON_REGISTRATION_OF_FIR).reply == timedelta(hours=72)
    assert policy.plan_for(ComplaintCategory.MISCONDUCT).reply == timedelta(days=14)
    assert policy.plan_for(ComplaintCategory.MISCONDUCT).first_contact == timedelta(hours=8)


def test_policy_unknown_category_rejected() -> None:
    text = 'name = "x"\n[first_contact]\ndefault = "PT8H"\n[reply]\ndefault = "P14D"\nBRIBE = "PT1H"\n[escalation]\ninterval = "P7D"\n'
    with pytest.raises(PolicyFileError, match="unknown category 'BRIBE'"):
        parse_policy(text, "p.toml")


def test_policy_bad_duration_named(tmp_path: Path) -> None:
    path = tmp_path / "p.toml"
    path.write_text(
        'name = "x"\n[first_contact]\ndefault = "8 hours"\n[reply]\ndefault = "P14D"\n[escalation]\ninterval = "P7D"\n'
    )
    with pytest.raises(PolicyFileError) as raised:
        load_policy(path)
    assert str(raised.value).startswith(
        f"{path}: first_contact.default must be an ISO 8601 duration"
    )
