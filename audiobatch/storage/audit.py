"""Checking a folder of the store against what was recorded of it: every recorded object read
back (streamed) and compared by size and sha256, every object no record names reported."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from audiobatch.errors import NotFoundError
from audiobatch.storage.base import Storage


@dataclass(frozen=True)
class Recorded:
    """An object as its record has it."""

    key: str
    bytes: int
    sha256: str


@dataclass(frozen=True)
class Changed:
    """A recorded object whose stored bytes differ from its record."""

    key: str
    bytes: int
    sha256: str
    recorded_bytes: int
    recorded_sha256: str


@dataclass
class Audit:
    """What a folder holds against its records; clean when nothing is missing, changed or stray."""

    checked: int = 0
    missing: list[str] = field(default_factory=list)
    changed: list[Changed] = field(default_factory=list)
    stray: list[str] = field(default_factory=list)

    @property
    def clean(self) -> bool:
        return not (self.missing or self.changed or self.stray)


def audit(
    storage: Storage, folder: str, records: Iterable[Recorded], expected: Iterable[str] = ()
) -> Audit:
    """Read back every recorded object and list the objects under ``folder`` that no record
    names; keys in ``expected`` (``results.json``, say) are neither stray nor required."""
    result = Audit()
    stored = set(storage.keys(folder))
    recorded = set(expected)
    for record in records:
        recorded.add(record.key)
        result.checked += 1
        if record.key not in stored:
            result.missing.append(record.key)
            continue
        try:
            size, sha256 = storage.measure(record.key)
        except NotFoundError:  # removed since the listing
            result.missing.append(record.key)
            continue
        if (size, sha256) != (record.bytes, record.sha256):
            result.changed.append(Changed(record.key, size, sha256, record.bytes, record.sha256))
    result.stray = sorted(stored - recorded)
    return result
