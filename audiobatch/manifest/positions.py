"""Line numbers of the values in a manifest, so that every problem can say where it is.

A path is a tuple of mapping keys and list indexes (``("jobs", 1, "inputs", 0, "voice")``). For a
mapping entry the line is the key's; for a list item, the item's first line. A path the file does
not contain (a missing field) falls back to its nearest ancestor that it does contain.

A JSON Lines file holds each job on one line, so its :class:`JobLines` keep one number a job
instead of a path a job.
"""

from __future__ import annotations

from array import array
from collections.abc import Iterator
from dataclasses import dataclass, field

import yaml

Path = tuple[str | int, ...]


@dataclass
class Positions:
    """Known lines by path; :meth:`line` answers for any path with its nearest known ancestor."""

    lines: dict[Path, int] = field(default_factory=dict)

    def line(self, path: Path) -> int | None:
        """The line of ``path``, or of its nearest ancestor with a known line, or ``None``."""
        for end in range(len(path), -1, -1):
            found = self.lines.get(path[:end])
            if found is not None:
                return found
        return None


@dataclass
class JobLines:
    """The lines of a document whose jobs each sit on a line of their own: every path inside
    job ``n`` is on ``jobs[n]``, any other path on ``first``."""

    first: int = 1
    jobs: array[int] = field(default_factory=lambda: array("L"))

    def line(self, path: Path) -> int:
        """The line of the job ``path`` is in, else the document's first line."""
        index = path[1] if len(path) > 1 and path[0] == "jobs" else None
        if isinstance(index, int) and 0 <= index < len(self.jobs):
            return self.jobs[index]
        return self.first


@dataclass(frozen=True)
class DuplicateKey:
    """A key that appears twice in one mapping; ``line`` is the second occurrence's."""

    path: Path
    line: int
    first_line: int


def from_node(root: yaml.Node) -> tuple[Positions, list[DuplicateKey]]:
    """Positions of everything under ``root`` (from ``yaml.compose``), and its duplicate keys.

    Each node is walked once, under the first path that reaches it: what an alias repeats is
    located at the alias (its nearest ancestor), so the walk stays linear in the file.
    """
    positions = Positions()
    duplicates: list[DuplicateKey] = []
    positions.lines[()] = root.start_mark.line + 1
    walked: set[int] = set()
    stack: list[tuple[yaml.Node, Path]] = [(root, ())]
    while stack:
        node, path = stack.pop()
        if id(node) in walked:
            continue
        walked.add(id(node))
        entries = list(_entries(node, path, duplicates))
        for child_path, line, _ in entries:
            positions.lines.setdefault(child_path, line)
        stack += [(child, child_path) for child_path, _, child in reversed(entries)]
    return positions, duplicates


def _entries(
    node: yaml.Node, path: Path, duplicates: list[DuplicateKey]
) -> Iterator[tuple[Path, int, yaml.Node]]:
    """(path, line, node) of each entry directly under ``node``; a key seen before in the same
    mapping goes to ``duplicates`` instead."""
    if isinstance(node, yaml.MappingNode):
        seen: dict[str, int] = {}
        for key_node, value_node in node.value:
            if not isinstance(key_node, yaml.ScalarNode):
                continue
            key, line = key_node.value, key_node.start_mark.line + 1
            if key in seen:
                duplicates.append(DuplicateKey((*path, key), line, seen[key]))
                continue
            seen[key] = line
            yield (*path, key), line, value_node
    elif isinstance(node, yaml.SequenceNode):
        for index, item in enumerate(node.value):
            yield (*path, index), item.start_mark.line + 1, item
