"""Line numbers of the values in a manifest, so that every problem can say where it is.

A path is a tuple of mapping keys and list indexes (``("jobs", 1, "inputs", 0, "voice")``). For a
mapping entry the line is the key's; for a list item, the item's first line. A path the file does
not contain (a missing field) falls back to its nearest ancestor that it does contain.
"""

from __future__ import annotations

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


@dataclass(frozen=True)
class DuplicateKey:
    """A key that appears twice in one mapping; ``line`` is the second occurrence's."""

    path: Path
    line: int
    first_line: int


def from_node(root: yaml.Node) -> tuple[Positions, list[DuplicateKey]]:
    """Positions of everything under ``root`` (from ``yaml.compose``), and its duplicate keys."""
    positions = Positions()
    duplicates: list[DuplicateKey] = []
    positions.lines[()] = root.start_mark.line + 1
    for path, key_line, first_line in _walk(root, (), set()):
        if first_line is None:
            positions.lines.setdefault(path, key_line)
        else:
            duplicates.append(DuplicateKey(path, key_line, first_line))
    return positions, duplicates


def _walk(node: yaml.Node, path: Path, active: set[int]) -> Iterator[tuple[Path, int, int | None]]:
    """(path, line, first line if a duplicate key else None) for each entry under ``node``."""
    if id(node) in active:  # an alias that contains itself
        return
    active.add(id(node))
    if isinstance(node, yaml.MappingNode):
        seen: dict[str, int] = {}
        for key_node, value_node in node.value:
            if not isinstance(key_node, yaml.ScalarNode):
                continue
            key, line = key_node.value, key_node.start_mark.line + 1
            child = (*path, key)
            if key in seen:
                yield child, line, seen[key]
                continue
            seen[key] = line
            yield child, line, None
            yield from _walk(value_node, child, active)
    elif isinstance(node, yaml.SequenceNode):
        for index, item in enumerate(node.value):
            child = (*path, index)
            yield child, item.start_mark.line + 1, None
            yield from _walk(item, child, active)
    active.discard(id(node))
