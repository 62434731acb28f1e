"""Checks across the jobs of one manifest: unique ids, ``{from: ...}`` references, no cycles.

Works on plain :class:`JobNode` values so that it can run on raw manifest data (to report every
problem of a file at once, even in jobs that are otherwise invalid) as well as on validated jobs.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass

from audiobatch.manifest.common import PROVIDERS, is_job_id


@dataclass(frozen=True, slots=True)
class Reference:
    """A field of a job that reads another job's output: ``field: {from: target}``."""

    field: str
    target: str
    need: str  # "audio" or "plan": see common.PROVIDERS


@dataclass(frozen=True, slots=True)  # one a job: a large manifest has many
class JobNode:
    """What the checks need to know of one job; ``None`` where the job does not say it properly."""

    id: str | None
    kind: str | None
    references: tuple[Reference, ...] = ()


@dataclass(frozen=True)
class GraphProblem:
    """A problem of the job at ``index``, at ``path`` inside it (``("source", "from")``)."""

    index: int
    path: tuple[str, ...]
    message: str
    first_index: int | None = None  # for a duplicate id: the job that had it first


_NEEDS = {"audio": "audio", "plan": "composition plan"}


def check_graph(nodes: Sequence[JobNode]) -> list[GraphProblem]:
    """Every duplicate id, bad reference and dependency cycle among ``nodes`` (in manifest order)."""
    problems: list[GraphProblem] = []
    first: dict[str, int] = {}
    for index, node in enumerate(nodes):
        if node.id is None:
            continue
        if node.id in first:
            problems.append(
                GraphProblem(index, ("id",), f"duplicate job id {node.id!r}", first[node.id])
            )
        else:
            first[node.id] = index

    edges: list[list[tuple[int, str]]] = [[] for _ in nodes]
    for index, node in enumerate(nodes):
        for ref in node.references:
            path = (ref.field, "from")
            target = first.get(ref.target)
            if target is None:
                problems.append(GraphProblem(index, path, f"unknown job {ref.target!r}"))
            elif ref.target == node.id:
                problems.append(GraphProblem(index, path, "a job cannot read its own output"))
            elif nodes[target].kind is not None and nodes[target].kind not in PROVIDERS[ref.need]:
                kinds = _one_of(sorted(PROVIDERS[ref.need]))
                problems.append(
                    GraphProblem(
                        index,
                        path,
                        f"job {ref.target!r} is a {nodes[target].kind} job, which gives no "
                        f"{_NEEDS[ref.need]}; {ref.field} needs a {kinds} job",
                    )
                )
            else:
                edges[index].append((target, ref.field))

    for cycle in _cycles(edges):
        start = min(range(len(cycle)), key=lambda i: cycle[i])
        cycle = cycle[start:] + cycle[:start]
        field = next(f for t, f in edges[cycle[0]] if t == cycle[1])
        names = " -> ".join(str(nodes[i].id) for i in [*cycle, cycle[0]])
        problems.append(GraphProblem(cycle[0], (field, "from"), f"dependency cycle: {names}"))
    return problems


def _one_of(names: Sequence[str]) -> str:
    return names[0] if len(names) == 1 else f"{', '.join(names[:-1])} or {names[-1]}"


def _cycles(edges: Sequence[Sequence[tuple[int, str]]]) -> Iterator[list[int]]:
    """One cycle per back edge of a depth-first search (iterative: chains may be long)."""
    state = [0] * len(edges)  # 0 unseen, 1 on the current path, 2 done
    for root in range(len(edges)):
        if state[root]:
            continue
        state[root] = 1
        path = [root]
        stack = [iter(edges[root])]
        while stack:
            step = next(stack[-1], None)
            if step is None:
                state[path.pop()] = 2
                stack.pop()
                continue
            target = step[0]
            if state[target] == 0:
                state[target] = 1
                path.append(target)
                stack.append(iter(edges[target]))
            elif state[target] == 1:
                yield path[path.index(target) :]


def raw_references(
    kind: str | None, data: Mapping[str, object], table: Mapping[str, Mapping[str, str]]
) -> tuple[Reference, ...]:
    """The ``{from: id}`` references in a job's raw fields, per ``table`` (kind → field → need).

    Targets that are not well-formed job ids are left out: validating the field reports them.
    """
    found: list[Reference] = []
    for field, need in table.get(kind or "", {}).items():
        value = data.get(field)
        if isinstance(value, Mapping):
            target = value.get("from")
            if isinstance(target, str) and is_job_id(target):
                found.append(Reference(field, target, need))
    return tuple(found)
