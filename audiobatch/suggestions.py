"""Suggestions for a name that is not known: the closest known one, for a message."""

from __future__ import annotations

import difflib
from collections.abc import Iterable


def did_you_mean(name: str, known: Iterable[str]) -> str:
    """`` (did you mean 'X'?)`` for the known name closest to ``name`` (letter case aside), or
    an empty string when none is close."""
    by_folded = {k.casefold(): k for k in known}
    close = difflib.get_close_matches(name.casefold(), sorted(by_folded), n=1)
    return f" (did you mean {by_folded[close[0]]!r}?)" if close else ""


def listed(names: Iterable[str], most: int = 10) -> str:
    """``names`` sorted and comma-separated, the first ``most`` of them and how many in all."""
    ordered = sorted(names)
    shown = ", ".join(ordered[:most])
    return shown if len(ordered) <= most else f"{shown}, ... ({len(ordered)} in all)"
