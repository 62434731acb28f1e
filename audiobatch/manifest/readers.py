"""Reading manifest files into plain documents with line positions, one reader per format.

Every reader returns a :class:`Document`, shaped like a YAML manifest (``batch``, ``jobs``, and
for YAML and JSON maybe ``defaults`` and ``voices``), or the problems that stopped it from reading
the file at all. JSONL and CSV documents are named by ``batch`` or, failing that, the file's stem.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from audiobatch.errors import Problem
from audiobatch.manifest.positions import DuplicateKey, Positions, from_node

# libyaml's loader when PyYAML was built with it: the same nodes and marks, several times faster
_Loader: type[yaml.SafeLoader] | type[yaml.CSafeLoader] = getattr(
    yaml, "CSafeLoader", yaml.SafeLoader
)

CSV_COLUMNS = ("episode", "voice", "text")
CSV_OPTIONAL = ("id",)
CSV_DEFAULTS = {"timestamps": True}


@dataclass
class Document:
    """A manifest file's content before validation."""

    file: str  # the path as the user gave it: problems name it so
    base_dir: Path  # relative source paths are read from here
    data: Any
    positions: Positions
    duplicates: list[DuplicateKey] = field(default_factory=list)


Reader = Callable[[str, Path, str, str | None], "Document | list[Problem]"]


def read_document(path: Path, batch: str | None) -> Document | list[Problem]:
    """Read one manifest file, choosing the format by its extension."""
    if path.suffix.lower() not in READERS:
        return [_unknown_format(str(path))]
    try:
        raw = path.read_bytes()
    except OSError as exc:
        return [Problem(str(path), None, "", f"cannot read the file: {exc.strerror or exc}")]
    return parse_document(raw, file=str(path), base_dir=path.absolute().parent, batch=batch)


def parse_document(
    raw: bytes, *, file: str, base_dir: Path, batch: str | None = None
) -> Document | list[Problem]:
    """Parse a manifest's bytes, read from ``file`` (a path or a URI whose extension names the
    format); relative source paths are read from ``base_dir``."""
    reader = READERS.get(Path(file).suffix.lower())
    if reader is None:
        return [_unknown_format(file)]
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        return [Problem(file, None, "", f"not UTF-8 text (byte {exc.start})")]
    return reader(file, base_dir, text, batch)


def _unknown_format(file: str) -> Problem:
    suffix, known = Path(file).suffix, ", ".join(sorted(READERS))
    return Problem(file, None, "", f"unknown manifest format {suffix!r}; use {known}")


def read_yaml(
    file: str, base_dir: Path, text: str, batch: str | None = None
) -> Document | list[Problem]:
    """A YAML manifest; YAML errors and duplicate keys are located by line."""
    loader = _Loader(text)
    try:
        node = loader.get_single_node()
        data = loader.construct_document(node) if node is not None else None
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        what = exc.problem or exc.context or "cannot parse"
        return [Problem(file, mark.line + 1 if mark else None, "", f"invalid YAML: {what}")]
    except yaml.YAMLError as exc:
        return [Problem(file, None, "", f"invalid YAML: {exc}")]
    finally:
        loader.dispose()
    return _document(file, base_dir, data, node)


def _document(file: str, base_dir: Path, data: Any, node: yaml.Node | None) -> Document:
    """The parsed data with the line of every path, where the composed node tree gives them."""
    if node is None:
        return Document(file, base_dir, data, Positions())
    positions, duplicates = from_node(node)
    return Document(file, base_dir, data, positions, duplicates)


def read_json(
    file: str, base_dir: Path, text: str, batch: str | None = None
) -> Document | list[Problem]:
    """A JSON manifest, parsed by ``json``; lines come from composing the same text as YAML."""
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        return [Problem(file, exc.lineno, "", f"invalid JSON: {exc.msg} (column {exc.colno})")]
    try:
        # Valid JSON has tabs only between tokens, where YAML refuses them: spaces keep the lines.
        node = yaml.compose(text.replace("\t", " "), Loader=_Loader)
    except yaml.YAMLError:
        node = None  # positions unknown: problems of this file come without lines
    return _document(file, base_dir, data, node)


def read_jsonl(
    file: str, base_dir: Path, text: str, batch: str | None = None
) -> Document | list[Problem]:
    """JSON Lines: one job object a line; blank lines are skipped."""
    problems: list[Problem] = []
    jobs: list[Any] = []
    positions = Positions()
    # split on "\n" only: str.splitlines() would also split inside strings at U+2028 and friends
    for number, line in enumerate(text.split("\n"), 1):
        if not line.strip():
            continue
        try:
            job = json.loads(line)
        except json.JSONDecodeError as exc:
            problems.append(
                Problem(file, number, "", f"invalid JSON: {exc.msg} (column {exc.colno})")
            )
            continue
        positions.lines[("jobs", len(jobs))] = number
        jobs.append(job)
    if problems:
        return problems
    return Document(file, base_dir, {"batch": batch or Path(file).stem, "jobs": jobs}, positions)


def read_csv(
    file: str, base_dir: Path, text: str, batch: str | None = None
) -> Document | list[Problem]:
    """CSV with columns ``episode,voice,text`` (``id`` allowed and ignored).

    The rows of one episode, in file order, become one dialogue job whose id is the episode.
    Episodes want subtitles: ``timestamps`` defaults to true (``--set timestamps=false`` turns
    it off).
    """
    rows = csv.reader(io.StringIO(text, newline=""))
    records: list[tuple[int, list[str]]] = []
    line = 1
    try:
        for row in rows:
            if any(cell.strip() for cell in row):
                records.append((line, row))
            line = rows.line_num + 1
    except csv.Error as exc:
        return [Problem(file, rows.line_num, "", f"invalid CSV: {exc}")]
    if not records:
        return [Problem(file, None, "", "empty CSV: expected a header row episode,voice,text")]
    (header_line, header), body = records[0], records[1:]
    columns = [name.strip().lower() for name in header]
    problems = [
        Problem(file, header_line, name, f"missing column {name!r} (expected episode,voice,text)")
        for name in CSV_COLUMNS
        if name not in columns
    ]
    problems += [
        Problem(
            file, header_line, name, "unknown column (expected episode,voice,text and maybe id)"
        )
        for name in columns
        if name not in CSV_COLUMNS + CSV_OPTIONAL
    ]
    if problems:
        return problems

    jobs: list[dict[str, Any]] = []
    by_episode: dict[str, int] = {}
    positions = Positions()
    for number, row in body:
        if len(row) != len(columns):
            problems.append(
                Problem(file, number, "", f"row has {len(row)} cells, the header {len(columns)}")
            )
            continue
        cells = dict(zip(columns, row, strict=True))
        episode = cells["episode"].strip()
        index = by_episode.get(episode)
        if index is None:
            index = by_episode[episode] = len(jobs)
            jobs.append({"id": episode, "kind": "dialogue", "inputs": []})
            positions.lines[("jobs", index)] = number
            positions.lines[("jobs", index, "id")] = number
        inputs = jobs[index]["inputs"]
        positions.lines[("jobs", index, "inputs", len(inputs))] = number
        inputs.append({"voice": cells["voice"].strip(), "text": cells["text"]})
    if problems:
        return problems
    data = {"batch": batch or Path(file).stem, "defaults": CSV_DEFAULTS, "jobs": jobs}
    return Document(file, base_dir, data, positions)


READERS: dict[str, Reader] = {
    ".yaml": read_yaml,
    ".yml": read_yaml,
    ".json": read_json,
    ".jsonl": read_jsonl,
    ".csv": read_csv,
}
"""The reader of each file extension."""
