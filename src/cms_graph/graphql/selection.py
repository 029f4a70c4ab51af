"""Checks on the fields that a query selects below the field being resolved."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from strawberry.types import Info
from strawberry.types.nodes import FragmentSpread, InlineFragment, Selection


def _contains(selections: Iterable[Selection], path: tuple[str, ...]) -> bool:
    name, rest = path[0], path[1:]
    for selection in selections:
        if isinstance(selection, FragmentSpread | InlineFragment):
            # A fragment's fields belong to the same object as the fragment.
            found = _contains(selection.selections, path)
        else:
            found = selection.name == name and (not rest or _contains(selection.selections, rest))
        if found:
            return True
    return False


def selects(info: Info[Any, Any], *path: str) -> bool:
    """Return whether the query selects the field at ``path`` below the current field.

    ``path`` contains schema field names (``"edges", "cursor"``), never aliases, and the
    search looks through fragment spreads and inline fragments. A field under ``@skip``
    or ``@include`` counts as selected, so a caller may compute a value that is not
    sent, but never omits one that is.
    """
    if not path:
        raise ValueError("selects needs at least one field name")
    return any(_contains(field.selections, path) for field in info.selected_fields)


__all__ = ["selects"]
