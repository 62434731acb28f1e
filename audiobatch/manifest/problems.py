"""Turning pydantic errors into located, readable manifest problems.

Field paths read ``jobs[cold-open].inputs[1].voice``: a job is named by its id when it has a
well-formed one, else by its index; other list items by their index, from 0.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from typing import Any

from pydantic_core import ErrorDetails

from audiobatch.errors import Problem
from audiobatch.manifest.common import RULE_ERROR, is_job_id
from audiobatch.manifest.positions import Path
from audiobatch.suggestions import did_you_mean

MAX_PROBLEMS = 200
"""A file's problems reported at most: checking stops there, so that a file of a million broken
lines is refused as fast as one of ten."""

_SHOW_INPUT = {
    "bool_type",
    "dict_type",
    "float_type",
    "int_type",
    "list_type",
    "literal_error",
    "string_type",
    "int_from_float",
    "float_parsing",
}


def stopped_at(file: str, line: int | None) -> Problem:
    """The last problem of a file whose checking stopped at :data:`MAX_PROBLEMS`."""
    text = f"checking stopped here after {MAX_PROBLEMS} problems: fix those, then validate again"
    return Problem(file, line, "", text)


def job_label(ids: Sequence[str | None], index: int) -> str:
    """How a field path names the job at ``index``, given each job's id as read: its id if
    well-formed, else the index."""
    job_id = ids[index] if 0 <= index < len(ids) else None
    return job_id if is_job_id(job_id) else str(index)


def format_path(path: Path, ids: Sequence[str | None]) -> str:
    """``("jobs", 2, "inputs", 0, "voice")`` as ``jobs[cold-open].inputs[0].voice``, naming jobs
    by ``ids`` (each job's id as read)."""
    text = ""
    for position, part in enumerate(path):
        if isinstance(part, int):
            label = job_label(ids, part) if path[:position] == ("jobs",) else str(part)
            text += f"[{label}]"
        else:
            name = part if isinstance(part, str) else repr(part)  # YAML keys may be bytes, None…
            text += f".{name}" if text else name
    return text


def data_path(data: Any, loc: Sequence[str | int], error: ErrorDetails) -> Path:
    """Where in ``data`` a pydantic error points, as a path of keys and indexes.

    Location parts that are not in the data (a union's tag) are skipped, except a last mapping
    key (a missing field). A rule across fields is placed at the field it names.
    """
    path: list[str | int] = []
    current = data
    for position, part in enumerate(loc):
        in_list = isinstance(current, list) and isinstance(part, int) and 0 <= part < len(current)
        if in_list or (isinstance(current, Mapping) and part in current):
            current = current[part]
        elif position == len(loc) - 1 and isinstance(current, Mapping) and isinstance(part, str):
            current = None
        else:
            continue
        path.append(part)
    context = error.get("ctx") or {}
    if error["type"] == RULE_ERROR and isinstance(context.get("field"), str):
        path.append(context["field"])
    return tuple(path)


def message(error: ErrorDetails, allowed: Collection[str] = ()) -> str:
    """A short message for a pydantic error; ``allowed`` are the field names next to it."""
    kind = error["type"]
    if kind == "missing":
        return "required field is missing"
    if kind == "extra_forbidden":
        name = str(error["loc"][-1]) if error["loc"] else ""
        return "unknown field" + did_you_mean(name, allowed)
    if kind == "value_error":
        return str((error.get("ctx") or {}).get("error", error["msg"]))
    if kind in ("model_type", "model_attributes_type", "dict_type"):
        return f"must be a mapping, not {_show(error['input'])}"
    text = error["msg"]
    if kind in _SHOW_INPUT:
        text += f", not {_show(error['input'])}"
    return text


def _show(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."
