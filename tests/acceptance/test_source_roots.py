"""The CLI reads local sources only from the manifest's folder, or from AUDIOBATCH_SOURCE_ROOTS."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.acceptance.cli import audiobatch, clean_environment

RECORDING = Path(__file__).resolve().parents[2] / "manifests/audio/line-01.mp3"
GUEST = "Aw4FAjKCGjjNkVhN1Xmq"


@pytest.fixture
def show(tmp_path: Path) -> Path:
    """The manifest's folder; beside it, a private folder holding a recording and a link to it."""
    (tmp_path / "show").mkdir()
    (tmp_path / "private").mkdir()
    (tmp_path / "private" / "secret.mp3").write_bytes(RECORDING.read_bytes())
    (tmp_path / "show" / "innocent.mp3").symlink_to(tmp_path / "private" / "secret.mp3")
    return tmp_path / "show"


def validate(folder: Path, source: str, **env: str) -> tuple[int, str]:
    (folder / "m.yaml").write_text(
        f"batch: b\njobs:\n  - {{id: redub, kind: voice_change, voice: {GUEST}, "
        f"source: '{source}'}}\n"
    )
    result = audiobatch("validate", "m.yaml", cwd=folder, env=clean_environment(**env))
    return result.returncode, result.stdout + result.stderr


@pytest.mark.parametrize(
    "source", ["../private/secret.mp3", "innocent.mp3", "{outside}/private/secret.mp3"]
)
def test_validate_refuses_a_source_outside_the_manifests_folder(show: Path, source: str) -> None:
    code, output = validate(show, source.format(outside=show.parent))
    assert code == 2, output
    assert "m.yaml:3: jobs[redub].source:" in output
    assert "is outside the folders sources may come from" in output
    assert "Traceback" not in output


def test_the_answer_is_the_same_whether_the_outside_file_exists_or_not(show: Path) -> None:
    existing = validate(show, "../private/secret.mp3")
    missing = validate(show, "../private/absent.mp3")
    assert existing == (missing[0], missing[1].replace("absent", "secret"))


def test_source_roots_widen_what_the_cli_reads(show: Path) -> None:
    code, output = validate(show, "../private/secret.mp3", AUDIOBATCH_SOURCE_ROOTS=str(show.parent))
    assert code == 0, output
