"""A batch's ``priority``: a name or a number from a manifest, ``--priority`` or a caller,
validated where it was given; not part of the manifest's digest (the same work at another
priority is the same work)."""

from __future__ import annotations

from pathlib import Path

import pytest

from audiobatch.errors import PriorityError
from audiobatch.priorities import NAMED, priority_name, with_priority
from tests.unit.manifest.helpers import load_one, problems, write
from tests.unit.manifest.test_tags import JOBS


@pytest.mark.parametrize(
    ("given", "number"), [("urgent", 90), ("bulk", 10), ("0", 0), ("100", 100)]
)
def test_a_manifest_s_priority_is_kept_as_its_number(
    tmp_path: Path, given: str, number: int
) -> None:
    manifest = load_one(write(tmp_path, "m.yaml", f"batch: b\npriority: {given}\n" + JOBS))
    assert manifest.priority == number
    plain = load_one(write(tmp_path, "n.yaml", "batch: b\n" + JOBS))
    assert plain.priority is None
    assert plain.sha256 == manifest.sha256


@pytest.mark.parametrize(
    ("given", "message"),
    [
        ("urgnet", "unknown priority 'urgnet' (did you mean 'urgent'?)"),
        ("101", "priority 101 is out of range: a number from 0 to 100"),
        ("-1", "priority -1 is out of range"),
        ("true", "priority must be urgent, normal, bulk or a number from 0 to 100"),
        ("[1]", "priority must be urgent, normal, bulk or a number from 0 to 100"),
    ],
)
def test_a_priority_that_is_none_is_reported_at_its_line(
    tmp_path: Path, given: str, message: str
) -> None:
    path = write(tmp_path, "m.yaml", f"batch: b\npriority: {given}\n" + JOBS)
    [problem] = problems([path])
    assert (problem.line, problem.field) == (2, "priority")
    assert message in problem.message


def test_a_priority_given_besides_the_manifest_replaces_its_own(tmp_path: Path) -> None:
    manifest = load_one(write(tmp_path, "m.yaml", "batch: b\npriority: bulk\n" + JOBS))
    assert with_priority(manifest, "urgent").priority == NAMED["urgent"]
    assert with_priority(manifest, 70).priority == 70
    assert with_priority(manifest, None).priority == NAMED["bulk"]
    with pytest.raises(PriorityError, match="unknown priority 'soon'"):
        with_priority(manifest, "soon")


def test_named_priorities_read_back_by_name_and_others_as_numbers() -> None:
    assert [priority_name(n) for n in (90, 50, 10, 42)] == ["urgent", "normal", "bulk", "42"]
