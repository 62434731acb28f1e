"""A manifest's ``tags``: short labels, validated with the rest of the manifest, each once; more
from ``submit --tag`` are merged in under the same rules."""

from __future__ import annotations

from pathlib import Path

import pytest

from audiobatch.errors import TagError
from audiobatch.manifest.tags import MAX_TAGS, with_tags
from tests.unit.manifest.helpers import HOST, load_one, problems, write

JOBS = f"""
jobs:
  - id: one
    kind: dialogue
    inputs: [{{voice: {HOST}, text: Hi}}]
"""


def test_a_manifest_s_tags_are_kept_each_once_in_their_order(tmp_path: Path) -> None:
    path = write(tmp_path, "m.yaml", "batch: tagged\ntags: [season-2, draft, season-2]\n" + JOBS)
    manifest = load_one(path)
    assert manifest.tags == ["season-2", "draft"]
    untagged = load_one(write(tmp_path, "n.yaml", "batch: plain\n" + JOBS))
    assert untagged.tags == []
    assert untagged.sha256 != manifest.sha256  # the names differ; tags are not hashed
    same_jobs = load_one(write(tmp_path, "o.yaml", "batch: tagged\n" + JOBS))
    assert same_jobs.sha256 == manifest.sha256


def test_bad_tags_are_reported_each_at_its_line(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "m.yaml",
        'batch: tagged\ntags:\n  - ok\n  - "Not Lower"\n  - 7\n  - ' + "x" * 33 + "\n" + JOBS,
    )
    found = [(p.line, p.field, p.message) for p in problems([path])]
    assert [(line, field) for line, field, _ in found] == [
        (4, "tags[1]"),
        (5, "tags[2]"),
        (6, "tags[3]"),
    ]
    assert "tag 'Not Lower' must match [a-z0-9][a-z0-9._-]{0,31}" in found[0][2]
    assert "at most 32 characters" in found[2][2]


def test_tags_must_be_a_list_of_at_most_ten(tmp_path: Path) -> None:
    single = write(tmp_path, "m.yaml", "batch: tagged\ntags: draft\n" + JOBS)
    assert [(p.field, p.message) for p in problems([single])] == [
        ("tags", "must be a list of tags")
    ]
    many = ", ".join(f"t{n}" for n in range(MAX_TAGS + 1))
    crowded = write(tmp_path, "n.yaml", f"batch: tagged\ntags: [{many}]\n" + JOBS)
    assert [p.message for p in problems([crowded])] == ["a batch carries at most 10 tags, not 11"]


def test_tags_given_besides_a_manifest_s_own_are_merged_under_the_same_rules(
    tmp_path: Path,
) -> None:
    manifest = load_one(write(tmp_path, "m.yaml", "batch: tagged\ntags: [draft]\n" + JOBS))
    assert with_tags(manifest, ["nightly", "draft"]).tags == ["draft", "nightly"]
    assert manifest.tags == ["draft"]  # a copy: the loaded manifest is unchanged
    with pytest.raises(TagError, match="tag 'UPPER' must match"):
        with_tags(manifest, ["UPPER"])
    with pytest.raises(TagError, match="at most 10 tags, not 11"):
        with_tags(manifest, [f"t{n}" for n in range(MAX_TAGS)])
