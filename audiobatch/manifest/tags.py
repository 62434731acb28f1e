"""Batch tags: short labels a batch carries (from its manifest's ``tags``, ``submit --tag`` or
the dashboard) to be found by. A tag is lowercase letters, digits, ``.``, ``_`` and ``-``."""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence

from audiobatch.errors import TagError
from audiobatch.manifest.schema import Manifest

TAG_PATTERN = r"[a-z0-9][a-z0-9._-]{0,31}"
MAX_TAG_CHARS = 32
MAX_TAGS = 10
"""The most tags one batch carries."""
_TAG = re.compile(TAG_PATTERN)


def tag_problem(tag: object) -> str | None:
    """Why ``tag`` is no tag; None when it is one."""
    if isinstance(tag, str) and _TAG.fullmatch(tag):
        return None
    return (
        f"tag {tag!r} must match {TAG_PATTERN}: lowercase letters, digits, '.', '_' and '-', "
        f"at most {MAX_TAG_CHARS} characters"
    )


def too_many(count: int) -> str | None:
    """Why a batch cannot carry ``count`` tags; None when it can."""
    return None if count <= MAX_TAGS else f"a batch carries at most {MAX_TAGS} tags, not {count}"


def merged_tags(existing: Sequence[str], added: Iterable[str]) -> list[str]:
    """``existing`` followed by the ``added`` tags it lacks; :class:`TagError` for a tag that is
    no tag, or more tags than a batch carries."""
    merged = list(existing)
    for tag in added:
        if problem := tag_problem(tag):
            raise TagError(problem)
        if tag not in merged:
            merged.append(tag)
    if problem := too_many(len(merged)):
        raise TagError(problem)
    return merged


def with_tags(manifest: Manifest, added: Sequence[str]) -> Manifest:
    """The manifest carrying ``added`` tags besides its own (see :func:`merged_tags`)."""
    return manifest.model_copy(update={"tags": merged_tags(manifest.tags, added)})
