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
    """The first node (innermost first) whose expanded content nests deeper than
    :data:`MAX_DEPTH`, expands beyond the alias budget, or contains itself through an alias."""
    order = _post_order(root)
    if isinstance(order, Overrun):
        return order
    extra = max(MIN_ALIAS_NODES, len(order))
    limit = len(order) + extra
    size: dict[int, int] = {}
    depth: dict[int, int] = {}
    for node, line in order:
        children = [id(child) for child, _ in _children(node)]
        size[id(node)] = 1 + sum(size[child] for child in children)
        depth[id(node)] = 0
        if not isinstance(node, yaml.ScalarNode):
            depth[id(node)] = 1 + max((depth[child] for child in children), default=0)
        if depth[id(node)] > MAX_DEPTH:
            return Overrun(line, DEPTH_MESSAGE)
        if size[id(node)] > limit:
            return Overrun(
                line,
                f"YAML aliases expand this to more than {limit:,} values (the file has"
                f" {len(order):,}; aliases may add at most {extra:,})",
            )
    return None


def _children(node: yaml.Node) -> list[tuple[yaml.Node, int]]:
    """The nodes directly under ``node``, each with the line of its entry (a value's key)."""
    if isinstance(node, yaml.SequenceNode):
        return [(item, item.start_mark.line + 1) for item in node.value]
    if isinstance(node, yaml.MappingNode):
        pairs: list[tuple[yaml.Node, int]] = []
        for key, value in node.value:
            line = key.start_mark.line + 1
            pairs += [(key, line), (value, line)]
        return pairs
    return []


def _post_order(root: yaml.Node) -> list[tuple[yaml.Node, int]] | Overrun:
    """Every distinct node under ``root`` once, children before parents, each with the line of
    its first entry; an :class:`Overrun` where an alias sits inside its own anchor."""
    done: set[int] = set()
    open_: set[int] = set()  # the nodes on the path being walked
    order: list[tuple[yaml.Node, int]] = []
    stack: list[tuple[yaml.Node, int, bool]] = [(root, root.start_mark.line + 1, False)]
    while stack:
        node, line, children_done = stack.pop()
        if children_done:
            open_.discard(id(node))
            done.add(id(node))
            order.append((node, line))
            continue
        if id(node) in done:
            continue
        if id(node) in open_:
            return Overrun(line, "a YAML alias inside its own anchor: the data would never end")
        open_.add(id(node))
        stack.append((node, line, True))
        stack += [(child, at, False) for child, at in reversed(_children(node))]
    return order
