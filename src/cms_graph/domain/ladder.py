"""The supervisory ladder a complaint climbs: circle (SDPO), district (DPO), region (RPO),
Additional IGP, IGP. The first three are units of the hierarchy; the last two both sit at
the province."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from cms_graph.domain.units import UnitHierarchy, UnitLevel
from cms_graph.domain.values import Role


class Rank(StrEnum):
    """A rung of the ladder, lowest first."""

    CIRCLE = "CIRCLE"
    DISTRICT = "DISTRICT"
    REGION = "REGION"
    ADDL_IGP = "ADDL_IGP"
    IGP = "IGP"

    @property
    def order(self) -> int:
        return list(Rank).index(self)


RANK_LEVEL = {
    Rank.CIRCLE: UnitLevel.CIRCLE,
    Rank.DISTRICT: UnitLevel.DISTRICT,
    Rank.REGION: UnitLevel.REGION,
    Rank.ADDL_IGP: UnitLevel.PROVINCE,
    Rank.IGP: UnitLevel.PROVINCE,
}
RANK_ROLE = {
    Rank.CIRCLE: Role.SDPO,
    Rank.DISTRICT: Role.DPO,
    Rank.REGION: Role.RPO,
    Rank.ADDL_IGP: Role.ADDL_IGP,
    Rank.IGP: Role.IGP,
}
# The rank of each role on the ladder; roles off the ladder have none.
ROLE_RANK = {role: rank for rank, role in RANK_ROLE.items()}


def rank_for_level(level: UnitLevel) -> Rank:
    """Return the rank responsible for a complaint marked to a unit of ``level``.

    A station is below the ladder, so it maps to its circle's rank.
    """
    if level in (UnitLevel.POLICE_STATION, UnitLevel.CIRCLE):
        return Rank.CIRCLE
    if level is UnitLevel.DISTRICT:
        return Rank.DISTRICT
    if level is UnitLevel.REGION:
        return Rank.REGION
    return Rank.ADDL_IGP


@dataclass(frozen=True)
class Holder:
    unit_id: str
    rank: Rank


def next_holder(units: UnitHierarchy, unit_id: str, rank: Rank) -> Holder | None:
    """Return the holder one rung up the ladder, or None at the top (IGP)."""
    ranks = list(Rank)
    if rank.order + 1 >= len(ranks):
        return None
    target = ranks[rank.order + 1]
    unit = units.ancestor_at(unit_id, RANK_LEVEL[target])
    if unit is None:
        return None
    return Holder(unit.id, target)


def outranks(role: Role | None, other: Role | None) -> bool:
    """Return whether ``role`` is higher on the ladder than ``other``.

    A role off the ladder (an SHO, a clerk) counts as below every rank.
    """
    if role not in ROLE_RANK:
        return False
    if other not in ROLE_RANK:
        return True
    return ROLE_RANK[role].order > ROLE_RANK[other].order


__all__ = [
    "RANK_LEVEL",
    "RANK_ROLE",
    "ROLE_RANK",
    "Holder",
    "Rank",
    "next_holder",
    "outranks",
    "rank_for_level",
]
