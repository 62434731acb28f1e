"""Loading manifests: read every file, validate everything, and either return every manifest or
raise one :class:`~audiobatch.errors.ManifestError` carrying every problem of every file.

Formats by extension: ``.yaml``/``.yml``, ``.json``, ``.jsonl`` (one job object a line) and
``.csv`` (``episode,voice,text``: one dialogue job per episode, with timestamps unless the flags
say otherwise). JSONL and CSV files have no ``batch``, ``defaults`` or ``voices`` of their own:
they come from the arguments (the batch is named by ``batch``, else a ``batch`` entry of
``defaults``, else the file's stem).
"""

from __future__ import annotations

import gc
from collections.abc import Callable, Collection, Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TypeVar

from audiobatch.errors import ManifestError, Problem
from audiobatch.manifest.confinement import SourcePolicy
from audiobatch.manifest.episodes import DEFAULT_PART_CHARS
from audiobatch.manifest.readers import Document, parse_document, read_document
from audiobatch.manifest.schema import Manifest
from audiobatch.manifest.validate import (
    JobFold,
    ManifestJobs,
    default_problems,
    validate_document,
    voice_problems,
)

Made = TypeVar("Made")


def load_manifests(
    paths: Sequence[Path],
    *,
    voices: Mapping[str, str] | None = None,
    defaults: Mapping[str, Any] | None = None,
    batch: str | None = None,
    check_files: bool = True,
    part_chars: int = DEFAULT_PART_CHARS,
    sources: SourcePolicy = SourcePolicy(),
    accounts: Collection[str] | None = None,
) -> list[Manifest]:
    """Read and validate manifest files, one :class:`Manifest` per file, in the order given.

    ``voices`` (alias → voice id, the ``--voices`` flag) and ``defaults`` (field → value, the
    ``--set`` flag) apply to every file and take precedence over a file's own sections. A
    ``batch`` entry in ``defaults`` names JSONL and CSV batches, like ``batch``. With
    ``check_files`` false, local source files are not required to exist. Dialogue jobs longer
    than ``part_chars`` (``AUDIOBATCH_PART_CHARS``) are rendered in parts of that size, unless
    they set their own ``part_chars``. Sources must come from where ``sources`` allows (local
    files by default from each manifest's own folder). A manifest's ``account`` must be one of
    ``accounts`` (None: any well-formed name).

    Raises :class:`ManifestError` with every problem found, each naming its file, line and field.
    Nothing is returned unless every file is valid.
    """
    return fold_manifests(
        paths,
        ManifestJobs,
        voices=voices,
        defaults=defaults,
        batch=batch,
        check_files=check_files,
        part_chars=part_chars,
        sources=sources,
        accounts=accounts,
    )


def fold_manifests(
    paths: Sequence[Path],
    start: Callable[[], JobFold[Made]],
    *,
    voices: Mapping[str, str] | None = None,
    defaults: Mapping[str, Any] | None = None,
    batch: str | None = None,
    check_files: bool = True,
    part_chars: int = DEFAULT_PART_CHARS,
    sources: SourcePolicy = SourcePolicy(),
    accounts: Collection[str] | None = None,
) -> list[Made]:
    """Read and validate manifest files as :func:`load_manifests` does, each file's valid jobs
    handed to a fold of its own (``start()``) as they are validated: what each fold makes, in the
    order given. A fold that keeps nothing of a job checks a large manifest in little memory."""
    problems: list[Problem] = []
    flag_defaults = dict(defaults or {})
    named = flag_defaults.pop("batch", None)
    if batch is None and named is not None:
        batch = str(named)
    flag_voices = voice_problems(
        voices,
        lambda alias, text: problems.append(Problem("--voices", None, _key("voices", alias), text)),
    )
    flag_defaults = default_problems(
        flag_defaults,
        lambda key, text: problems.append(Problem("--set", None, _key("", key), text)),
    )

    made: list[Made] = []
    for path in paths:
        with _no_cycle_collection():
            result = _validated(
                read_document(Path(path), batch),
                start(),
                flag_voices,
                flag_defaults,
                check_files,
                part_chars,
                sources,
                accounts,
            )
        if isinstance(result, list):
            problems += result
        else:
            made.append(result)
    if problems:
        raise ManifestError(problems)
    return made


def load_manifest_bytes(
    raw: bytes,
    *,
    file: str,
    base_dir: Path,
    part_chars: int = DEFAULT_PART_CHARS,
    sources: SourcePolicy = SourcePolicy(),
    accounts: Collection[str] | None = None,
) -> Manifest:
    """Validate a manifest held in memory (read from S3, or stored with a schedule): ``file``
    names it in problems and its extension the format; relative source paths are read from
    ``base_dir``; ``part_chars``, ``sources`` and ``accounts`` as for :func:`load_manifests`. Raises
    :class:`ManifestError` with every problem found."""
    with _no_cycle_collection():
        result = _validated(
            parse_document(raw, file=file, base_dir=base_dir),
            ManifestJobs(),
            {},
            {},
            True,
            part_chars,
            sources,
            accounts,
        )
    if isinstance(result, list):
        raise ManifestError(result)
    return result


@contextmanager
def _no_cycle_collection() -> Iterator[None]:
    """Reading and validating a manifest makes millions of objects that form no cycles: the
    cycle collector, which would scan them over and over (a third of the time of a large
    manifest), waits until the end."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


def _validated(
    doc: Document | list[Problem],
    fold: JobFold[Made],
    voices: Mapping[str, str],
    defaults: Mapping[str, Any],
    check_files: bool,
    part_chars: int,
    sources: SourcePolicy,
    accounts: Collection[str] | None,
) -> Made | list[Problem]:
    if isinstance(doc, list):
        return doc
    return validate_document(
        doc,
        fold,
        voices=voices,
        defaults=defaults,
        check_files=check_files,
        part_chars=part_chars,
        sources=sources,
        accounts=accounts,
    )


def _key(section: str, key: object) -> str:
    if key is None:
        return section
    return f"{section}.{key}" if section else str(key)
