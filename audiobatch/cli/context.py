"""What every command needs: settings read once, the database ready, a way to publish wake-ups."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, TypeVar

import typer
import yaml

from audiobatch.config import Settings
from audiobatch.config import load_settings as load_settings
from audiobatch.db.migrate import ready_database as ready_database
from audiobatch.db.reconcile import Publish
from audiobatch.errors import ConfigError
from audiobatch.manifest import Manifest
from audiobatch.manifest.loaders import fold_manifests
from audiobatch.manifest.validate import JobFold, ManifestJobs

if TYPE_CHECKING:
    from celery import Celery

Made = TypeVar("Made")

JsonFlag = Annotated[bool, typer.Option("--json", help="Print JSON instead of text.")]
ManifestPaths = Annotated[
    list[Path], typer.Argument(help="Manifest files (YAML, JSON, JSONL, CSV).")
]
VoicesOption = Annotated[
    list[str],
    typer.Option(
        "--voices",
        help="Voice aliases: a YAML/JSON file mapping alias to voice id, or alias=id (repeatable).",
    ),
]
SetOption = Annotated[
    list[str], typer.Option("--set", help="A default request field, key=value (repeatable).")
]


def broker_app(settings: Settings) -> Celery:
    """The Celery app of the deployment's broker (Celery is loaded by the commands that use it)."""
    from audiobatch.broker import create_celery

    return create_celery(settings)


def broker_publisher(settings: Settings) -> Publish:
    from audiobatch.broker import publisher

    return publisher(broker_app(settings))


def read_manifests(
    paths: list[Path], voices: list[str], sets: list[str], settings: Settings
) -> list[Manifest]:
    """Validate the manifests with the ``--voices`` and ``--set`` flags; episodes are cut into
    parts of ``AUDIOBATCH_PART_CHARS``, sources confined to ``AUDIOBATCH_SOURCE_ROOTS`` (else
    each manifest's folder) and ``AUDIOBATCH_SOURCE_BUCKETS``."""
    return fold_files(paths, voices, sets, settings, ManifestJobs)


def fold_files(
    paths: list[Path],
    voices: list[str],
    sets: list[str],
    settings: Settings,
    start: Callable[[], JobFold[Made]],
) -> list[Made]:
    """The manifests validated as :func:`read_manifests` does, each file's valid jobs handed to
    a fold of its own (``start()``) instead of kept: what each fold makes."""
    return fold_manifests(
        paths,
        start,
        voices=read_voices(voices),
        defaults=parse_sets(sets),
        part_chars=settings.part_chars,
        sources=settings.source_policy(),
        accounts=settings.account_names(),
    )


def read_voices(values: list[str]) -> dict[str, str] | None:
    """``--voices`` flags: each a YAML or JSON file mapping alias to voice id, or ``alias=id``;
    a later flag wins over an earlier one for the same alias."""
    if not values:
        return None
    voices: dict[str, str] = {}
    for value in values:
        alias, sep, voice_id = value.partition("=")
        if sep and not Path(value).exists():
            if not alias.strip() or not voice_id.strip():
                raise ConfigError(f"--voices {value!r}: expected alias=voice_id or a file")
            voices[alias.strip()] = voice_id.strip()
        else:
            voices.update(_voices_file(Path(value)))
    return voices


def _voices_file(path: Path) -> dict[str, str]:
    if not path.exists():
        raise ConfigError(f"--voices {str(path)!r}: no such file (or give alias=voice_id)")
    try:
        data = yaml.safe_load(path.read_text())
    except (OSError, yaml.YAMLError) as exc:
        raise ConfigError(f"--voices {path}: cannot read: {exc}") from exc
    if not isinstance(data, Mapping) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in data.items()
    ):
        raise ConfigError(f"--voices {path}: expected a mapping of alias to voice id")
    return dict(data)


def parse_sets(values: list[str]) -> dict[str, Any] | None:
    """``--set key=value`` pairs as manifest defaults (values read as YAML scalars)."""
    if not values:
        return None
    defaults: dict[str, Any] = {}
    for item in values:
        key, sep, raw = item.partition("=")
        if not sep or not key:
            raise ConfigError(f"--set {item!r}: expected key=value")
        defaults[key.strip()] = yaml.safe_load(raw)
    return defaults
