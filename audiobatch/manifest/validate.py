"""From a read :class:`~audiobatch.manifest.readers.Document` to a :class:`Manifest`, or to every
problem it has, each with its file, line and field.

Valid jobs go, one at a time as they are validated, to a :class:`JobFold`: :class:`ManifestJobs`
keeps them for the manifest, another fold may take from each job only what it needs (an estimate)
so that a large manifest is checked without being held.

``voices`` and ``defaults`` are resolved here and not kept: aliases become voice ids, and each
default is copied into the jobs that do not set it and whose kind has the field. Flags
(``--voices``, ``--set``) take precedence over the file's own sections.
"""

from __future__ import annotations

import copy
import pathlib
import re
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol, TypeVar, cast

from pydantic import ValidationError

from audiobatch.accounts import DEFAULT_ACCOUNT, account_problem
from audiobatch.errors import Problem
from audiobatch.manifest.batch_settings import BatchSettings
from audiobatch.manifest.common import (
    ALIAS_PATTERN,
    BATCH_PATTERN,
    MAX_BATCH_NAME_CHARS,
    is_voice_id,
    name_problem,
    validation_context,
)
from audiobatch.manifest.confinement import SourcePolicy
from audiobatch.manifest.dialogue import MAX_VOICES, DialogueJob
from audiobatch.manifest.episodes import (
    DEFAULT_PART_CHARS,
    crowded_parts,
    episode_parts,
    with_part_size,
)
from audiobatch.manifest.graph import JobNode, check_graph, raw_references
from audiobatch.manifest.notify import notify_problems
from audiobatch.manifest.positions import Path
from audiobatch.manifest.problems import (
    MAX_PROBLEMS,
    data_path,
    format_path,
    message,
    stopped_at,
)
from audiobatch.manifest.readers import Document
from audiobatch.manifest.schema import (
    DEFAULTABLE,
    FIELDS_BY_KIND,
    KINDS,
    MODELS,
    NOT_DEFAULTABLE,
    REFERENCES_BY_KIND,
    JobSpec,
    Manifest,
)
from audiobatch.manifest.tags import tag_problem, too_many
from audiobatch.priorities import as_priority, priority_problem
from audiobatch.suggestions import did_you_mean

TOP_LEVEL = ("batch", "jobs", "defaults", "voices", "tags", "priority", "notify", "account")
_ALIAS = re.compile(ALIAS_PATTERN)

Made = TypeVar("Made", covariant=True)


class JobFold(Protocol[Made]):
    """What a manifest's valid jobs are made into, handed over one at a time in manifest order.
    What it makes is never a list: a list is what validation returns for the problems."""

    def add(self, job: JobSpec) -> None:
        """Take the next valid job."""

    def result(
        self, batch: str, source: str, roots: Sequence[pathlib.Path], settings: BatchSettings
    ) -> Made:
        """What the jobs make, once the whole manifest ``source`` of batch ``batch`` is found
        valid; its local sources were confined to ``roots``, and its batch has ``settings``."""


@dataclass
class ManifestJobs:
    """The jobs kept, to make the :class:`Manifest`."""

    jobs: list[JobSpec] = field(default_factory=list)

    def add(self, job: JobSpec) -> None:
        self.jobs.append(job)

    def result(
        self, batch: str, source: str, roots: Sequence[pathlib.Path], settings: BatchSettings
    ) -> Manifest:
        return Manifest.build(batch, self.jobs, source, roots, settings)


@dataclass
class _Checker:
    """Problems of one document, located through its positions."""

    doc: Document
    ids: Sequence[str | None] = ()  # each job's id as read: problems name jobs by it
    problems: list[Problem] = field(default_factory=list)
    # a bad default is reported once, at the default, naming the jobs it broke
    from_defaults: dict[tuple[str, str, str], list[str]] = field(default_factory=dict)

    def add(self, path: Path, text: str, *, line: int | None = None, located: bool = True) -> None:
        if line is None and located:
            line = self.doc.positions.line(path)
        self.problems.append(Problem(self.doc.file, line, format_path(path, self.ids), text))


def voice_problems(voices: Any, report: Any) -> dict[str, str]:
    """The valid entries of a ``voices`` section; ``report(alias, message)`` gets the others."""
    if voices is None:
        return {}
    if not isinstance(voices, Mapping):
        report(None, "must be a mapping of alias to voice id")
        return {}
    valid: dict[str, str] = {}
    for alias, voice_id in voices.items():
        if not isinstance(alias, str) or not _ALIAS.fullmatch(alias):
            report(alias, f"alias {alias!r} must match {ALIAS_PATTERN}")
        elif not isinstance(voice_id, str) or not is_voice_id(voice_id):
            report(alias, f"{voice_id!r} is not a voice id (20 letters and digits)")
        else:
            valid[alias] = voice_id
    return valid


def tag_problems(tags: Any, report: Any) -> list[str]:
    """The tags of a ``tags`` section, each once; ``report(index, message)`` gets the others
    (``index`` None: the section itself)."""
    if tags is None:
        return []
    if not isinstance(tags, list):
        report(None, "must be a list of tags")
        return []
    valid: list[str] = []
    for index, tag in enumerate(tags):
        if problem := tag_problem(tag):
            report(index, problem)
        elif tag not in valid:
            valid.append(tag)
    if problem := too_many(len(valid)):
        report(None, problem)
    return valid


def default_problems(defaults: Any, report: Any) -> dict[str, Any]:
    """The usable entries of a ``defaults`` section; ``report(key, message)`` gets the others."""
    if defaults is None:
        return {}
    if not isinstance(defaults, Mapping):
        report(None, "must be a mapping of field to value")
        return {}
    usable: dict[str, Any] = {}
    for key, value in defaults.items():
        if key in NOT_DEFAULTABLE:
            report(key, f"{key} cannot have a default")
        elif key not in DEFAULTABLE:
            report(key, "unknown field: no job kind has it")
        else:
            usable[key] = value
    return usable


def validate_document(
    doc: Document,
    fold: JobFold[Made],
    *,
    voices: Mapping[str, str],
    defaults: Mapping[str, Any],
    check_files: bool = True,
    part_chars: int = DEFAULT_PART_CHARS,
    sources: SourcePolicy = SourcePolicy(),
    accounts: Collection[str] | None = None,
) -> Made | list[Problem]:
    """Validate one document with the flags' ``voices`` and ``defaults`` (already checked);
    its ``account`` must be one of ``accounts`` (None: any well-formed name);
    dialogue jobs longer than ``part_chars`` that set no part size of their own are cut at it;
    sources must come from where ``sources`` allows (local roots by default: the document's
    folder), and the fold's result gets those roots. Each valid job goes to ``fold`` as soon as
    it is validated, until a problem is found; what the fold makes is returned when there is none.

    The document's jobs are consumed: each is dropped from its list as soon as it is checked, so
    that a large manifest is not held twice.
    """
    data = doc.data
    check = _Checker(doc)
    if not isinstance(data, Mapping):
        check.add((), "a manifest must be a mapping with batch and jobs")
        return check.problems
    jobs = data.get("jobs")
    listed: list[Any] = jobs if isinstance(jobs, list) else []
    check.ids = [_raw_id(raw) for raw in listed]
    for dup in doc.duplicates:
        check.add(dup.path, f"duplicate key (first at line {dup.first_line})", line=dup.line)
    for key in data:
        if key not in TOP_LEVEL:
            check.add(
                (key,),
                "unknown field; a manifest has batch, jobs, defaults, voices, tags, priority, "
                "notify and account",
            )

    batch = data.get("batch")
    if "batch" not in data:
        check.add(("batch",), "required field is missing")
    elif not isinstance(batch, str):
        check.add(("batch",), f"batch name {batch!r} must match {BATCH_PATTERN}")
    elif problem := name_problem(batch, BATCH_PATTERN, "batch name", MAX_BATCH_NAME_CHARS):
        check.add(("batch",), problem)

    tags = tag_problems(
        data.get("tags"),
        lambda index, text: check.add(("tags",) if index is None else ("tags", index), text),
    )
    priority = data.get("priority")
    if priority is not None and (problem := priority_problem(priority)):
        check.add(("priority",), problem)
    account = data.get("account", DEFAULT_ACCOUNT)
    if problem := account_problem(account, accounts):
        check.add(("account",), problem)
    notify = notify_problems(
        data.get("notify"), lambda path, text: check.add(("notify", *path), text)
    )
    aliases = voice_problems(
        data.get("voices"), lambda alias, text: check.add(_under("voices", alias), text)
    )
    aliases.update(voices)
    own_defaults = default_problems(
        data.get("defaults"), lambda key, text: check.add(_under("defaults", key), text)
    )
    origins: dict[str, str] = {key: "defaults" for key in own_defaults}
    origins.update({key: "--set" for key in defaults})
    merged = {**own_defaults, **defaults}

    if "jobs" not in data:
        check.add(("jobs",), "required field is missing")
    elif not isinstance(jobs, list):
        check.add(("jobs",), "must be a list of jobs")
    elif not jobs:
        check.add(("jobs",), "a manifest needs at least one job")

    roots = sources.roots_for(doc.base_dir)
    context = validation_context(
        aliases,
        doc.base_dir,
        check_files=check_files,
        source_roots=roots,
        source_buckets=sources.buckets,
    )
    nodes: list[JobNode] = []  # each job with its defaults, as the graph check must see it
    for index, raw in enumerate(listed):
        if len(check.problems) >= MAX_PROBLEMS:
            line = doc.positions.line(("jobs", index))
            return [*sorted(check.problems, key=_line), stopped_at(doc.file, line)]
        listed[index] = None
        data, applied = _with_defaults(raw, merged)
        if doc.chapter_per_job:
            data = _as_one_chapter(data)
        nodes.append(_job_node(data))
        job = _validate_job(check, index, data, applied, origins, context)
        if isinstance(job, DialogueJob):
            job = with_part_size(job, part_chars)
            _check_voices(check, index, job)
        if job is not None and not check.problems:
            fold.add(job)
    _check_graph(check, nodes)
    for (origin, key, text), jobs_hit in check.from_defaults.items():
        where = ("defaults", key)
        check.add(
            where,
            f"{text} (set by {origin}, for {', '.join(jobs_hit)})",
            located=origin == "defaults",
        )

    if check.problems:
        return sorted(check.problems, key=_line)
    assert isinstance(batch, str)  # checked above
    try:
        chosen = None if priority is None or priority_problem(priority) else as_priority(priority)
        settings = BatchSettings(
            tags=tuple(tags), priority=chosen, notify=notify, account=str(account)
        )
        return fold.result(batch, doc.file, roots, settings)
    except ValidationError as exc:  # the checks above should have caught it: say so, not crash
        return [Problem(doc.file, None, "", f"invalid manifest: {exc}")]


def _line(problem: Problem) -> int:
    return problem.line or 0


def _under(section: str, key: Any) -> Path:
    return (section,) if key is None else (section, str(key))


def _raw_id(raw: Any) -> str | None:
    """A raw job's id, where it has one that is a string."""
    job_id = raw.get("id") if isinstance(raw, Mapping) else None
    return job_id if isinstance(job_id, str) else None


def _with_defaults(raw: Any, defaults: Mapping[str, Any]) -> tuple[Any, set[str]]:
    """The job with the defaults its kind has and it does not set (a copy, unless there are
    none: the raw job itself), and the names of those."""
    kind = raw.get("kind") if isinstance(raw, Mapping) else None
    if not isinstance(kind, str) or kind not in MODELS:
        return raw, set()
    missing = [key for key in defaults if key in FIELDS_BY_KIND[kind] and key not in raw]
    if not missing:
        return raw, set()
    return {**raw, **{key: copy.deepcopy(defaults[key]) for key in missing}}, set(missing)


def _as_one_chapter(data: Any) -> Any:
    """A season's episode with timestamps, as one chapter titled by its id."""
    if not isinstance(data, Mapping) or data.get("timestamps") is not True or "chapters" in data:
        return data
    return {**data, "chapters": [{"turn": 0, "title": data.get("id")}]}


def _validate_job(
    check: _Checker,
    index: int,
    data: Any,
    applied: set[str],
    origins: Mapping[str, str],
    context: dict[str, Any],
) -> JobSpec | None:
    here: Path = ("jobs", index)
    if not isinstance(data, Mapping):
        check.add(here, "a job must be a mapping")
        return None
    kind = data.get("kind")
    if "kind" not in data:
        check.add((*here, "kind"), "required field is missing")
        return None
    if not isinstance(kind, str) or kind not in MODELS:
        check.add(
            (*here, "kind"),
            (
                f"unknown kind {kind!r}{did_you_mean(str(kind), KINDS)}; "
                f"expected one of {', '.join(KINDS)}"
            ),
        )
        return None
    try:
        job = cast("JobSpec", MODELS[kind].model_validate(data, context=context))
    except ValidationError as exc:
        for error in exc.errors():
            path = data_path(data, error["loc"], error)
            text = message(error, FIELDS_BY_KIND[kind] if len(path) == 1 else ())
            if path and path[0] in applied:
                culprit = (origins[str(path[0])], str(path[0]), text)
                check.from_defaults.setdefault(culprit, []).append(format_path(here, check.ids))
            else:
                check.add((*here, *path), text)
        return None
    return job


def _check_voices(check: _Checker, index: int, job: DialogueJob) -> None:
    """Every request of the job, each part of an episode, takes at most MAX_VOICES voices."""
    whole = episode_parts(job) is None
    for part in crowded_parts(job):
        if whole:
            text = f"uses {part.voices} different voices; a dialogue job takes at most {MAX_VOICES}"
            check.add(("jobs", index, "inputs"), text)
            continue
        check.add(
            ("jobs", index, "inputs", part.first_turn),
            f"inputs {part.first_turn}-{part.last_turn} run on into one part (part {part.number},"
            f" at most {job.part_chars} characters) with {part.voices} different voices; a part"
            f" takes at most {MAX_VOICES}: spread the voices out, or set a smaller part_chars",
        )


def _job_node(raw: Any) -> JobNode:
    """What the graph check needs of a raw job."""
    if not isinstance(raw, Mapping):
        return JobNode(None, None)
    kind = raw.get("kind")
    kind = kind if isinstance(kind, str) and kind in MODELS else None
    return JobNode(_raw_id(raw), kind, raw_references(kind, raw, REFERENCES_BY_KIND))


def _check_graph(check: _Checker, nodes: Sequence[JobNode]) -> None:
    for problem in check_graph(nodes):
        text = problem.message
        if problem.first_index is not None:
            first = check.doc.positions.line(("jobs", problem.first_index, "id"))
            text += f" (first used at line {first})" if first is not None else " (used before)"
        check.add(("jobs", problem.index, *problem.path), text)
