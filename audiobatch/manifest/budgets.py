"""What a manifest file may cost to read: caps on nesting and on YAML alias expansion, checked in
linear time before any data is built from the file.

A YAML alias names a node that is already in the document, so a few hundred bytes of nested
anchors stand for billions of values once expanded (an "alias bomb"). The composed node graph is
small; only the walks over the expanded data are not. :func:`yaml_overrun` weighs that graph,
each node once, and refuses a document whose aliases would expand it too far, or that nests too
deep for the recursive code that reads it afterwards (JSON decoding, copies, validation).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import yaml

MAX_DEPTH = 64
"""Lists and mappings nested deeper than this are refused; a manifest needs about ten levels."""
MIN_ALIAS_NODES = 100_000
"""Expanding YAML aliases may add this many nodes to a document, or as many as the document has
of its own when that is more: aliases may at most double a large manifest."""

DEPTH_MESSAGE = f"lists and mappings nested more than {MAX_DEPTH} levels deep"

# JSON strings (skipped whole, escapes included) and the brackets that open and close nesting
_JSON_TOKEN = re.compile(r'"[^"\\]*(?:\\.[^"\\]*)*"|[\[\]{}]')


@dataclass(frozen=True)
class Overrun:
    """Where a file goes beyond a cap, and which."""

    line: int  # from 1
    message: str


def json_overrun(text: str) -> Overrun | None:
    """The first place where JSON ``text`` nests deeper than :data:`MAX_DEPTH`, if any."""
    if text.count("[") + text.count("{") <= MAX_DEPTH:  # cannot nest deeper: skip the scan
        return None
    depth = 0
    for token in _JSON_TOKEN.finditer(text):
        mark = token.group()
        if mark in "[{":
            depth += 1
            if depth > MAX_DEPTH:
                return Overrun(text.count("\n", 0, token.start()) + 1, DEPTH_MESSAGE)
        elif mark in "]}":
            depth -= 1
    return None


def yaml_overrun(root: yaml.Node) -> Overrun | None:
    """The first list or mapping (innermost first) whose expanded content nests deeper than
    :data:`MAX_DEPTH`, expands beyond the alias budget, or contains itself through an alias."""
    order = _post_order(root)
    if isinstance(order, Overrun):
        return order
    own = sum(len(_children(node)) for node, _ in order) + 1  # every entry of the file, and root
    extra = max(MIN_ALIAS_NODES, own)
    size: dict[yaml.Node, int] = {}  # nodes with aliases expanded, the node itself included
    depth: dict[yaml.Node, int] = {}  # levels of lists and mappings, the node's own included
    for node, line in order:
        total, deepest = 1, 0
        for child in _children(node):
            if isinstance(child, yaml.ScalarNode):
                total += 1
            else:
                total += size[child]
                deepest = max(deepest, depth[child])
        size[node], depth[node] = total, deepest + 1
        if deepest + 1 > MAX_DEPTH:
            return Overrun(line, DEPTH_MESSAGE)
        if total > own + extra:
            return Overrun(
                line,
                f"YAML aliases expand this to more than {own + extra:,} values (the file has"
                f" {own:,}; aliases may add at most {extra:,})",
            )
    return None


def _children(node: yaml.Node) -> list[yaml.Node]:
    """The nodes directly under ``node``: a list's items, a mapping's keys and values."""
    if isinstance(node, yaml.SequenceNode):
        return node.value  # type: ignore[no-any-return]
    if isinstance(node, yaml.MappingNode):
        return [part for pair in node.value for part in pair]
    return []


def _entry_line(parent: yaml.Node, index: int, child: yaml.Node) -> int:
    """The line of ``child``'s entry: its key's in a mapping, its own in a list."""
    if isinstance(parent, yaml.MappingNode):
        return parent.value[index // 2][0].start_mark.line + 1  # type: ignore[no-any-return]
    return child.start_mark.line + 1


def _post_order(root: yaml.Node) -> list[tuple[yaml.Node, int]] | Overrun:
    """Every distinct list and mapping under ``root`` once, children before parents, each with
    the line of its first entry; an :class:`Overrun` where an alias sits inside its own anchor."""
    if isinstance(root, yaml.ScalarNode):
        return []
    done: set[yaml.Node] = set()
    open_: set[yaml.Node] = set()  # the nodes on the path being walked
    order: list[tuple[yaml.Node, int]] = []
    stack: list[tuple[yaml.Node, int, bool]] = [(root, root.start_mark.line + 1, False)]
    while stack:
        node, line, children_done = stack.pop()
        if children_done:
            open_.discard(node)
            done.add(node)
            order.append((node, line))
            continue
        if node in done:
            continue
        if node in open_:
            return Overrun(line, "a YAML alias inside its own anchor: the data would never end")
        open_.add(node)
        stack.append((node, line, True))
        children = _children(node)
        for index in range(len(children) - 1, -1, -1):
            child = children[index]
            if not isinstance(child, yaml.ScalarNode):
                stack.append((child, _entry_line(node, index, child), False))
    return order
