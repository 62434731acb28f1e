"""Episodes: a dialogue job too long for one request, cut into parts the API takes.

A part holds at most ``part_chars`` characters of text (the API asks for 2,000 at most "for
reliable generation") and, like every dialogue request, at most :data:`MAX_VOICES` voices. Parts
are cut at turn boundaries; a turn too long for one part is cut at sentence ends, and a sentence
longer than a part at its last space before the limit. The cut depends only on the inputs and
``part_chars``: submission (which writes the parts as jobs) and stitching (which joins their
outputs) agree on it.

Where to cut is decided by the content near each boundary, not by counting from the start, so an
edit early in an episode leaves the later parts (and their requests) as they were. The turn before
a boundary makes it an *anchor* when the hash of its voice and text, read as a fraction of 1, is
below its length over :func:`anchor_spacing_chars`; the episode is cut at every anchor with no
other anchor (nor the episode's start) in the :func:`min_part_chars` characters before it. Whether
a boundary is a cut depends only on those characters and the turn before it: editing, inserting or
deleting one turn (no longer than a part) changes at most the part holding it and the part after
it. A stretch between two cuts longer than ``part_chars`` (rare: cuts come about a quarter of
``part_chars`` apart) is packed into parts from its start, and an edit in it may move the later
cuts of that stretch; a last stretch shorter than the minimum joins the one before it when they
fit one part.

Every part of an episode carries the episode's seed, or without one a seed derived from the
episode's id (:func:`episode_seed`), so its parts sound alike and an unchanged part makes the same
request in every batch.

A validated dialogue job that needs parts carries its ``part_chars``; one that fits one request
carries none and is rendered as it is.
"""

from __future__ import annotations

import hashlib
import re
from bisect import bisect_right
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

from audiobatch.manifest.common import JobBase
from audiobatch.manifest.dialogue import MAX_VOICES, DialogueInput, DialogueJob
from audiobatch.manifest.schema import Manifest

DEFAULT_PART_CHARS = 2000
"""The API's advice for one dialogue request ("for reliable generation")."""
SEED_BYTES = 4
"""A derived seed is the first 4 bytes of a sha256: the API's seed range, 0 to 4,294,967,295."""

# A run of sentence enders, closing quotes or brackets, then white space. The match starts only at
# the run's first ender and never backtracks (the classes are disjoint): linear in the text, where
# a plain ``[.!?]+`` re-scans a long run of dots from each of its characters.
_SENTENCE_END = re.compile(r"(?<![.!?\u2026])[.!?\u2026]++[\"')\]\u00bb\u201d\u2019]*+\s+")


@dataclass(frozen=True)
class PartLine:
    """One input of a part: a whole turn of the episode, or a piece of a long one."""

    turn: int  # the index of the episode's input it comes from
    voice: str
    text: str


@dataclass(frozen=True)
class Part:
    """The inputs of one request of an episode."""

    lines: tuple[PartLine, ...]

    @property
    def voices(self) -> frozenset[str]:
        return frozenset(line.voice for line in self.lines)

    @property
    def chars(self) -> int:
        return sum(len(line.text) for line in self.lines)


def part_key(episode: str, number: int) -> str:
    """The job key of an episode's part ``number`` (from 1): ``<episode>/part-001``."""
    return f"{episode}/part-{number:03d}"


def with_part_size(job: DialogueJob, part_chars: int) -> DialogueJob:
    """The job as it is submitted: one longer than ``part_chars`` that does not set its own part
    size is cut at ``part_chars``."""
    if job.part_chars is not None or sum(len(line.text) for line in job.inputs) <= part_chars:
        return job
    return job.model_copy(update={"part_chars": part_chars})


def min_part_chars(part_chars: int) -> int:
    """The fewest characters between two cuts placed by content."""
    return part_chars // 8


def anchor_spacing_chars(part_chars: int) -> int:
    """The characters of text, on average, between two anchors."""
    return part_chars // 6


def cut_parts(inputs: Sequence[DialogueInput], part_chars: int) -> list[Part]:
    """The inputs in order in parts of at most ``part_chars`` characters, cut by content."""
    return [
        part for stretch in stretches(inputs, part_chars) for part in _packed(stretch, part_chars)
    ]


def stretches(inputs: Sequence[DialogueInput], part_chars: int) -> list[Part]:
    """The lines of the inputs (long turns cut into pieces) between two cuts placed by content:
    each one part, unless longer than ``part_chars``."""
    least, spacing = min_part_chars(part_chars), anchor_spacing_chars(part_chars)
    found: list[Part] = []
    current: list[PartLine] = []
    position = last_anchor = 0  # the episode's start counts as an anchor
    for turn, line in enumerate(inputs):
        for piece in _pieces(line.text, part_chars):
            current.append(PartLine(turn, line.voice, piece))
            position += len(piece)
            if _hash_fraction(line.voice, piece) * spacing < len(piece):
                if position - last_anchor >= least:
                    found.append(Part(tuple(current)))
                    current = []
                last_anchor = position
    if current:
        tail = Part(tuple(current))
        if found and tail.chars < least and found[-1].chars + tail.chars <= part_chars:
            found[-1] = Part(found[-1].lines + tail.lines)
        else:
            found.append(tail)
    return found


def episode_seed(episode: DialogueJob) -> int:
    """The seed every part of the episode carries: its own, else one derived from its id."""
    if episode.seed is not None:
        return episode.seed
    digest = hashlib.sha256(f"episode-seed\n{episode.id}".encode()).digest()
    return int.from_bytes(digest[:SEED_BYTES], "big")


def _packed(stretch: Part, part_chars: int) -> Iterator[Part]:
    """The stretch's lines packed in order into parts of at most ``part_chars`` characters."""
    current: list[PartLine] = []
    size = 0
    for line in stretch.lines:
        if current and size + len(line.text) > part_chars:
            yield Part(tuple(current))
            current, size = [], 0
        current.append(line)
        size += len(line.text)
    if current:
        yield Part(tuple(current))


def _hash_fraction(voice: str, text: str) -> float:
    """The sha256 of a line as a number from 0 to 1: the same for the same line in any episode."""
    digest = hashlib.sha256(f"{voice}\n{text}".encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2**64


def episode_parts(job: DialogueJob) -> list[Part] | None:
    """The parts of a job that needs more than one request; None for a job rendered whole."""
    if job.part_chars is None:
        return None
    parts = cut_parts(job.inputs, job.part_chars)
    return parts if len(parts) > 1 else None


def job_parts(job: JobBase) -> list[Part] | None:
    """The parts of a job that is an episode; None for any other job."""
    return episode_parts(job) if isinstance(job, DialogueJob) else None


def manifest_episodes(manifest: Manifest) -> dict[str, list[Part]]:
    """The manifest's episodes (dialogue jobs too long for one request), each with its parts."""
    return {job.id: parts for job in manifest.jobs if (parts := job_parts(job)) is not None}


def part_job(episode: DialogueJob, part: Part) -> DialogueJob:
    """The dialogue job that renders one part: the episode's request fields and seed (see
    :func:`episode_seed`), the part's inputs, no loudness of its own."""
    inputs = [DialogueInput(voice=line.voice, text=line.text) for line in part.lines]
    return episode.model_copy(
        update={
            "inputs": inputs,
            "seed": episode_seed(episode),
            "part_chars": None,
            "part_pause_ms": 0,
            "chapters": None,
            "loudness": None,  # the episode's level is set once it is stitched
        }
    )


@dataclass(frozen=True)
class CrowdedPart:
    """A part with more voices than a request takes."""

    number: int  # from 1
    first_turn: int
    last_turn: int
    voices: int


def crowded_parts(job: DialogueJob) -> Iterator[CrowdedPart]:
    """The parts of the job (the job itself when it is rendered whole) with too many voices."""
    parts = episode_parts(job)
    if parts is None:
        voices = len({line.voice for line in job.inputs})
        if voices > MAX_VOICES:
            yield CrowdedPart(1, 0, len(job.inputs) - 1, voices)
        return
    for number, part in enumerate(parts, 1):
        if len(part.voices) > MAX_VOICES:
            yield CrowdedPart(number, part.lines[0].turn, part.lines[-1].turn, len(part.voices))


def _pieces(text: str, limit: int) -> Iterator[str]:
    """``text`` whole if it fits ``limit``, else cut at sentence ends (at a space, or hard, for a
    sentence longer than ``limit``) into stripped pieces of at most ``limit`` characters."""
    if len(text) <= limit:
        yield text
        return
    ends = [m.end() for m in _SENTENCE_END.finditer(text)]  # ascending
    start = 0
    while len(text) - start > limit:
        last = bisect_right(ends, start + limit) - 1  # the last sentence end within the limit
        cut = ends[last] if last >= 0 and ends[last] > start else None
        if cut is None:
            space = text.rfind(" ", start + 1, start + limit + 1)
            cut = space if space > start else start + limit
        piece = text[start:cut].strip()
        if piece:
            yield piece
        start = cut
    rest = text[start:].strip()
    if rest:
        yield rest
