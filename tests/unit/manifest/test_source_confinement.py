"""Sources are confined at validation: local files to the source roots (the manifest's folder by
default), S3 objects to the allowed buckets; a refusal never tells whether a path exists."""

from __future__ import annotations

from pathlib import Path

import pytest

from audiobatch.config import Settings
from audiobatch.manifest.confinement import NO_LOCAL_SOURCES, SourcePolicy
from tests.unit.manifest.helpers import GUEST, load_one, problems, write

RECORDING = Path(__file__).resolve().parents[3] / "manifests/audio/line-01.mp3"


def redub(folder: Path, source: str, name: str = "m.yaml") -> Path:
    return write(
        folder,
        name,
        f"""
        batch: confined
        jobs:
          - id: redub
            kind: voice_change
            voice: {GUEST}
            source: '{source}'
        """,
    )


@pytest.fixture
def layout(tmp_path: Path) -> tuple[Path, Path]:
    """A manifest folder holding one recording, and a folder beside it holding another."""
    inside, outside = tmp_path / "show", tmp_path / "private"
    (inside / "audio").mkdir(parents=True)
    outside.mkdir()
    (inside / "audio" / "take.mp3").write_bytes(RECORDING.read_bytes())
    (outside / "secret.mp3").write_bytes(RECORDING.read_bytes())
    return inside, outside


def only_problem(path: Path, **options: object) -> tuple[int | None, str, str]:
    [problem] = problems([path], **options)
    return problem.line, problem.field, problem.message


def test_a_file_in_the_manifests_folder_is_accepted_and_its_folder_recorded(
    layout: tuple[Path, Path],
) -> None:
    inside, _ = layout
    manifest = load_one(redub(inside, "audio/take.mp3"))
    assert manifest.source_roots == [str(inside.resolve())]


def test_an_absolute_path_outside_the_manifests_folder_is_refused_where_it_is_written(
    layout: tuple[Path, Path],
) -> None:
    inside, outside = layout
    line, field, message = only_problem(redub(inside, str(outside / "secret.mp3")))
    assert (line, field) == (6, "jobs[redub].source")
    assert "outside the folders sources may come from" in message
    assert str(inside.resolve()) in message


def test_dot_dot_out_of_the_manifests_folder_is_refused(layout: tuple[Path, Path]) -> None:
    inside, _ = layout
    _, _, message = only_problem(redub(inside, "audio/../../private/secret.mp3"))
    assert "outside the folders sources may come from" in message


def test_a_link_inside_the_folder_that_leads_outside_is_refused(
    layout: tuple[Path, Path],
) -> None:
    inside, outside = layout
    (inside / "audio" / "innocent.mp3").symlink_to(outside / "secret.mp3")
    (inside / "elsewhere").symlink_to(outside)
    for source in ("audio/innocent.mp3", "elsewhere/secret.mp3"):
        _, _, message = only_problem(redub(inside, source))
        assert "outside the folders sources may come from" in message, source


def test_existing_and_missing_paths_outside_get_the_same_answer(
    layout: tuple[Path, Path],
) -> None:
    inside, outside = layout
    existing = only_problem(redub(inside, str(outside / "secret.mp3")))
    missing = only_problem(redub(inside, str(outside / "absent.mp3")))
    assert existing == (missing[0], missing[1], missing[2].replace("absent", "secret"))
    system = only_problem(redub(inside, "/etc/passwd"))
    nothing = only_problem(redub(inside, "/etc/no-such-file-here"))
    assert system[2] == nothing[2].replace("/etc/no-such-file-here", "/etc/passwd")


def test_configured_roots_replace_the_manifests_folder(layout: tuple[Path, Path]) -> None:
    inside, outside = layout
    policy = Settings(source_roots=(outside,)).source_policy()  # type: ignore[call-arg]
    manifest = load_one(redub(inside, str(outside / "secret.mp3")), sources=policy)
    assert manifest.source_roots == [str(outside.resolve())]
    _, _, message = only_problem(redub(inside, "audio/take.mp3"), sources=policy)
    assert "outside the folders sources may come from" in message


def test_an_uploaded_manifest_has_no_local_roots_unless_some_are_configured(
    layout: tuple[Path, Path],
) -> None:
    inside, _ = layout
    policy = Settings().source_policy(uploaded=True)
    _, _, message = only_problem(redub(inside, "audio/take.mp3"), sources=policy)
    assert message == NO_LOCAL_SOURCES


def test_s3_sources_are_limited_to_the_allowed_buckets_and_prefixes(tmp_path: Path) -> None:
    policy = SourcePolicy(buckets=("media/takes",))
    assert load_one(redub(tmp_path, "s3://media/takes/line.mp3"), sources=policy)
    for source in (
        "s3://other/takes/line.mp3",
        "s3://media/takes-old/line.mp3",
        "s3://media/renders/line.mp3",
        "s3://media/takes/../renders/line.mp3",
    ):
        _, field, message = only_problem(redub(tmp_path, source), sources=policy)
        assert field == "jobs[redub].source"
        assert "outside the buckets sources may come from (s3://media/takes)" in message, source


def test_the_storage_bucket_is_the_default_for_s3_sources() -> None:
    assert Settings(storage_url="s3://renders/out").allowed_source_buckets == ("renders/out",)
    assert Settings(storage_url="file://./renders").allowed_source_buckets == ()


def test_source_settings_read_comma_separated_lists(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AUDIOBATCH_SOURCE_ROOTS", f"{tmp_path}/a, {tmp_path}/b")
    monkeypatch.setenv("AUDIOBATCH_SOURCE_BUCKETS", "s3://media/takes/,archive")
    settings = Settings()
    assert settings.source_roots == (tmp_path / "a", tmp_path / "b")
    assert settings.allowed_source_buckets == ("media/takes", "archive")
