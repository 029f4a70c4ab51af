"""Read a deadline policy from a TOML file; the default ships with the package."""

from __future__ import annotations

import tomllib
from importlib import resources
from pathlib import Path
from typing import Any

from cms_graph.domain.deadlines import DeadlinePolicy, parse_duration
from cms_graph.domain.errors import InvalidInput
from cms_graph.domain.values import ComplaintCategory


class PolicyFileError(ValueError):
    """Raised when a policy file is missing, unreadable or invalid; names file and key."""


def _section(document: dict[str, Any], name: str, source: str) -> dict[str, Any]:
    section = document.get(name)
    if not isinstance(section, dict):
        raise PolicyFileError(f"{source}: missing table [{name}]")
    return section


def _by_category(section: dict[str, Any], table: str, source: str) -> dict[ComplaintCategory, Any]:
    overrides = {}
    for key, value in section.items():
        if key == "default":
            continue
        try:
            category = ComplaintCategory(key)
        except ValueError:
            allowed = ", ".join(c.value for c in ComplaintCategory)
            raise PolicyFileError(
                f"{source}: [{table}] has unknown category {key!r}; use default or one of {allowed}"
            ) from None
        overrides[category] = _duration(value, f"{table}.{key}", source)
    return overrides


def _duration(value: Any, key: str, source: str) -> Any:
    try:
        return parse_duration(value, key)
    except InvalidInput as error:
        raise PolicyFileError(f"{source}: {error.message}") from None


def parse_policy(text: str, source: str) -> DeadlinePolicy:
    try:
        document = tomllib.loads(text)
    except tomllib.TOMLDecodeError as error:
        raise PolicyFileError(f"{source}: not valid TOML: {error}") from None
    name = document.get("name")
    if not isinstance(name, str) or not name.strip():
        raise PolicyFileError(f'{source}: missing name, e.g. name = "punjab-2026"')
    first_contact = _section(document, "first_contact", source)
    reply = _section(document, "reply", source)
    escalation = _section(document, "escalation", source)
    for table, section in (("first_contact", first_contact), ("reply", reply)):
        if "default" not in section:
            raise PolicyFileError(f"{source}: [{table}] needs a default duration")
    if "interval" not in escalation:
        raise PolicyFileError(f"{source}: [escalation] needs an interval duration")
    return DeadlinePolicy(
        name=name.strip(),
        first_contact=_duration(first_contact["default"], "first_contact.default", source),
        reply=_duration(reply["default"], "reply.default", source),
        escalation_interval=_duration(escalation["interval"], "escalation.interval", source),
        first_contact_by_category=_by_category(first_contact, "first_contact", source),
        reply_by_category=_by_category(reply, "reply", source),
    )


def load_policy(path: Path | None) -> DeadlinePolicy:
    """Load the policy at ``path``, or the packaged default when ``path`` is None."""
    if path is None:
        text = resources.files("cms_graph.data").joinpath("deadline_policy.toml").read_text("utf-8")
        return parse_policy(text, "default deadline_policy.toml")
    return parse_policy(path.read_text(encoding="utf-8"), str(path))


__all__ = ["PolicyFileError", "load_policy", "parse_policy"]
