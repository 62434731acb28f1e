"""Reading manifest files into plain documents with line positions, one reader per format.

Every reader returns a :class:`Document`, shaped like a YAML manifest (``batch``, ``jobs``, and
for YAML and JSON maybe ``defaults`` and ``voices``), or the problems that stopped it from reading
the file at all. JSONL and CSV documents are named by ``batch`` or, failing that, the file's stem.
Every refusal is located by line where the file has one, and the nesting and YAML alias budgets
of :mod:`~audiobatch.manifest.budgets` are checked before any data is built.
"""

from __future__ import annotations

import csv
import io
import json
import re
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from audiobatch.errors import Problem
from audiobatch.manifest.budgets import json_overrun, yaml_overrun
from audiobatch.manifest.positions import DuplicateKey, JobLines, Positions, from_node
from audiobatch.manifest.problems import MAX_PROBLEMS, stopped_at

try:  # libyaml's loader when PyYAML was built with it: the same nodes and marks, several times faster
    from yaml import CSafeLoader as _SafeLoader
except ImportError:  # pragma: no cover - PyYAML built without libyaml
    from yaml import SafeLoader as _SafeLoader  # type: ignore[assignment]


class _Loader(_SafeLoader):
    """The safe loader, whose values that cannot be built (a date past December, an integer of
    more digits than Python converts, an empty ``!!int``) are refused at their line instead of
    escaping unlocated."""

    def construct_object(self, node: yaml.Node, deep: bool = False) -> Any:
        try:
            return super().construct_object(node, deep)
        except yaml.YAMLError:
            raise
        except Exception as exc:  # PyYAML's constructors raise what their conversions raise
            raise yaml.constructor.ConstructorError(
                None, None, f"cannot read this value: {exc}", node.start_mark
            ) from exc


CSV_COLUMNS = ("episode", "voice", "text")
CSV_OPTIONAL = ("id",)
CSV_DEFAULTS = {"timestamps": True}
MAX_ENCODING_PROBLEMS = 20
"""A file that is not UTF-8 is refused with the first bad byte of at most this many lines."""

# the csv module's error for a field still quoted at the end of the file
_CSV_OPEN_AT_END = "unexpected end of data"
_CSV_MARK = re.compile(r'[",\r\n]')
# Keys interned: each JSONL line is decoded apart, and 200,000 jobs would hold 200,000 copies of
# each field name
_JSON = json.JSONDecoder(object_pairs_hook=lambda pairs: {sys.intern(k): v for k, v in pairs})
_LONG_INTEGER = re.compile(rf"\d{{{sys.get_int_max_str_digits() + 1},}}")


@dataclass
class Document:
    """A manifest file's content before validation."""

    file: str  # the path as the user gave it: problems name it so
    base_dir: Path  # relative source paths are read from here
    data: Any
    positions: Positions | JobLines
    duplicates: list[DuplicateKey] = field(default_factory=list)
    # a CSV season: each episode with timestamps is one chapter, titled by its id
    chapter_per_job: bool = False


Reader = Callable[[str, Path, str, str | None], "Document | list[Problem]"]


def read_document(path: Path, batch: str | None) -> Document | list[Problem]:
    """Read one manifest file, choosing the format by its extension."""
    if path.is_dir():
        return [Problem(str(path), None, "", "a folder, not a manifest file: name a file in it")]
    if path.suffix.lower() not in READERS:
        return [_unknown_format(str(path))]
    try:
        text = _decoded(str(path), path.read_bytes())  # the bytes are dropped once decoded
    except OSError as exc:
        return [Problem(str(path), None, "", f"cannot read the file: {exc.strerror or exc}")]
    return _read_text(text, file=str(path), base_dir=path.absolute().parent, batch=batch)


def parse_document(
    raw: bytes, *, file: str, base_dir: Path, batch: str | None = None
) -> Document | list[Problem]:
    """Parse a manifest's bytes, read from ``file`` (a path or a URI whose extension names the
    format); relative source paths are read from ``base_dir``."""
    if Path(file).suffix.lower() not in READERS:
        return [_unknown_format(file)]
    return _read_text(_decoded(file, raw), file=file, base_dir=base_dir, batch=batch)


def _decoded(file: str, raw: bytes) -> str | list[Problem]:
    """The text of a manifest's bytes, or where they are not UTF-8."""
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        return _encoding_problems(file, raw)


def _read_text(
    text: str | list[Problem], *, file: str, base_dir: Path, batch: str | None
) -> Document | list[Problem]:
    """The document in a manifest's text, read by the reader of its extension; the problems
    that stopped decoding, when there is no text."""
    if isinstance(text, list):
        return text
    return READERS[Path(file).suffix.lower()](file, base_dir, text, batch)


def _encoding_problems(file: str, raw: bytes) -> list[Problem]:
    """The first byte that is not UTF-8 on each line that has one (at most
    :data:`MAX_ENCODING_PROBLEMS` lines), by line and column (in characters, from 1)."""
    problems: list[Problem] = []
    start, line = 0, 1  # where decoding resumes, and that offset's line
    while len(problems) < MAX_ENCODING_PROBLEMS:
        try:
            raw[start:].decode("utf-8")
            break
        except UnicodeDecodeError as exc:
            bad = start + exc.start
        line += raw.count(b"\n", start, bad)
        line_start = raw.rfind(b"\n", 0, bad) + 1
        column = len(raw[line_start:bad].decode("utf-8", "replace")) + 1
        problems.append(
            Problem(file, line, "", f"not UTF-8 text: byte 0x{raw[bad]:02x} at column {column}")
        )
        next_line = raw.find(b"\n", bad)
        if next_line < 0:
            break
        start, line = next_line + 1, line + 1
    return problems


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
        if node is not None and (overrun := yaml_overrun(node)) is not None:
            return [Problem(file, overrun.line, "", overrun.message)]
        data = loader.construct_document(node) if node is not None else None
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        what = exc.problem or exc.context or "cannot parse"
        return [Problem(file, mark.line + 1 if mark else None, "", f"invalid YAML: {what}")]
    except yaml.reader.ReaderError as exc:  # a character YAML does not allow
        line = text.count("\n", 0, exc.position) + 1
        column = exc.position - text.rfind("\n", 0, exc.position)
        what = f"character {exc.character!r} is not allowed in YAML (column {column})"
        return [Problem(file, line, "", f"invalid YAML: {what}")]
    except yaml.YAMLError as exc:
        return [Problem(file, None, "", f"invalid YAML: {exc}")]
    finally:
        loader.dispose()
    if node is None:  # nothing but blanks and comments
        return [Problem(file, 1, "", "empty YAML: expected a mapping with batch and jobs")]
    return _document(file, base_dir, data, node, text)


def _document(file: str, base_dir: Path, data: Any, node: yaml.Node | None, text: str) -> Document:
    """The parsed data with the line of every path, where the composed node tree gives them;
    without a tree, every problem is placed where the document starts."""
    if node is None:
        start = len(text) - len(text.lstrip())
        return Document(file, base_dir, data, Positions({(): text.count("\n", 0, start) + 1}))
    positions, duplicates = from_node(node)
    return Document(file, base_dir, data, positions, duplicates)


def read_json(
    file: str, base_dir: Path, text: str, batch: str | None = None
) -> Document | list[Problem]:
    """A JSON manifest, parsed by ``json``; lines come from composing the same text as YAML."""
    if not text.strip():
        return [Problem(file, 1, "", "empty JSON: expected an object with batch and jobs")]
    data, problem = _decode_json(file, text)
    if problem is not None:
        return [problem]
    try:
        # Valid JSON has tabs only between tokens, where YAML refuses them: spaces keep the lines.
        node = yaml.compose(text.replace("\t", " "), Loader=_Loader)
    except yaml.YAMLError:
        node = None  # positions unknown: problems of this file are placed at its start
    return _document(file, base_dir, data, node, text)


def read_jsonl(
    file: str, base_dir: Path, text: str, batch: str | None = None
) -> Document | list[Problem]:
    """JSON Lines: one job object a line; blank lines are skipped."""
    problems: list[Problem] = []
    jobs: list[Any] = []
    positions = JobLines()
    for number, line in enumerate(_lines(text), 1):
        if len(problems) >= MAX_PROBLEMS:
            return [*problems, stopped_at(file, number)]
        if not line.strip():
            continue
        job, problem = _decode_json(file, line, number)
        if problem is not None:
            problems.append(problem)
            continue
        positions.jobs.append(number)
        jobs.append(job)
    if problems:
        return problems
    return Document(file, base_dir, {"batch": batch or Path(file).stem, "jobs": jobs}, positions)


def _decode_json(file: str, text: str, first_line: int = 1) -> tuple[Any, Problem | None]:
    """``text`` (starting at ``first_line`` of the file) decoded, or the problem that stops it:
    invalid JSON, nesting beyond the budget, or an integer too long to convert."""
    overrun = json_overrun(text)
    if overrun is not None:
        return None, Problem(file, first_line + overrun.line - 1, "", overrun.message)
    try:
        return _JSON.decode(text), None
    except json.JSONDecodeError as exc:
        line, what = first_line + exc.lineno - 1, f"{exc.msg} (column {exc.colno})"
    except ValueError:  # the only other refusal: an integer of too many digits for int()
        found = _LONG_INTEGER.search(text)
        line = first_line + (text.count("\n", 0, found.start()) if found else 0)
        what = f"a number of more than {sys.get_int_max_str_digits():,} digits"
    return None, Problem(file, line, "", f"invalid JSON: {what}")


def _lines(text: str) -> Iterator[str]:
    """The lines of ``text``, one at a time: a large file's lines are never all held at once.
    Split on "\n" only: str.splitlines() would also split inside strings at U+2028 and friends."""
    start = 0
    while (end := text.find("\n", start)) >= 0:
        yield text[start:end]
        start = end + 1
    yield text[start:]


def read_csv(
    file: str, base_dir: Path, text: str, batch: str | None = None
) -> Document | list[Problem]:
    """CSV with columns ``episode,voice,text`` (``id`` allowed and ignored).

    The rows of one episode, in file order, become one dialogue job whose id is the episode.
    Episodes want subtitles: ``timestamps`` defaults to true (``--set timestamps=false`` turns
    it off); with timestamps, each episode is one chapter titled by its id. Quoting errors are refused, each at its line: a quote left open would otherwise
    swallow every later row into one text.
    """
    records, problems = _csv_records(file, text)
    if not records:
        return problems or [
            Problem(file, 1, "", "empty CSV: expected a header row episode,voice,text")
        ]
    (header_line, header), body = records[0], records[1:]
    columns = [name.strip().lower() for name in header]
    header_problems = [
        Problem(file, header_line, name, f"missing column {name!r} (expected episode,voice,text)")
        for name in CSV_COLUMNS
        if name not in columns
    ]
    header_problems += [
        Problem(
            file, header_line, name, "unknown column (expected episode,voice,text and maybe id)"
        )
        for name in columns
        if name not in CSV_COLUMNS + CSV_OPTIONAL
    ]
    if header_problems:
        return problems + header_problems  # without its columns, no row can be read

    jobs: list[dict[str, Any]] = []
    by_episode: dict[str, int] = {}
    positions = Positions({(): 1})
    for number, row in body:
        if len(problems) >= MAX_PROBLEMS:
            return [
                *sorted(problems, key=lambda problem: problem.line or 0),
                stopped_at(file, number),
            ]
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
        return sorted(problems, key=lambda problem: problem.line or 0)
    data = {"batch": batch or Path(file).stem, "defaults": CSV_DEFAULTS, "jobs": jobs}
    return Document(file, base_dir, data, positions, chapter_per_job=True)


def _csv_records(file: str, text: str) -> tuple[list[tuple[int, list[str]]], list[Problem]]:
    """The rows of ``text`` that are not blank, each with the line it starts on, and the
    quoting errors found on the way (reading goes on after each)."""
    rows = csv.reader(io.StringIO(text, newline=""), strict=True)
    records: list[tuple[int, list[str]]] = []
    problems: list[Problem] = []
    line = 1  # where the next row starts
    while True:
        try:
            row = next(rows)
        except StopIteration:
            break
        except csv.Error as exc:
            if str(exc) == _CSV_OPEN_AT_END:
                problems.append(_unclosed_quote(file, text, line))
                break
            problems.append(Problem(file, rows.line_num, "", f"invalid CSV: {exc}"))
        else:
            if any(cell.strip() for cell in row):
                records.append((line, row))
        line = rows.line_num + 1
    return records, problems


def _unclosed_quote(file: str, text: str, line: int) -> Problem:
    """The quote left open at the end of ``text`` by the row that starts on ``line``."""
    rest = text.split("\n", line - 1)[-1]
    opened, quoted, skip = 0, False, False
    for mark in _CSV_MARK.finditer(rest):
        at = mark.start()
        if skip:  # the second quote of a doubled one, inside quotes
            skip = False
        elif quoted and mark.group() == '"':
            skip = rest.startswith('"', at + 1)
            quoted = skip  # a doubled quote is a quote character: the field goes on
        elif not quoted and mark.group() == '"' and (at == 0 or rest[at - 1] in ",\r\n"):
            opened, quoted = at, True
    return Problem(
        file,
        line + rest.count("\n", 0, opened),
        "",
        "invalid CSV: the quote opened here is never closed (every later row would become its"
        " text); close it, or double a quote meant as text",
    )


READERS: dict[str, Reader] = {
    ".yaml": read_yaml,
    ".yml": read_yaml,
    ".json": read_json,
    ".jsonl": read_jsonl,
    ".csv": read_csv,
}
"""The reader of each file extension."""
