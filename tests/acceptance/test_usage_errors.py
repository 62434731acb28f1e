"""The command line as typed: usage errors are one line and exit 2, ``--version`` answers."""

from __future__ import annotations

from importlib.metadata import version
from pathlib import Path

import pytest

from tests.acceptance.cli import audiobatch, clean_environment


@pytest.mark.parametrize(
    ("args", "says"),
    [
        (["--bogus"], "No such option: --bogus (see 'audiobatch --help')"),
        (["jobs", "some-batch", "--status", "nope"], "'--status': 'nope' is not one of 'pending'"),
        (["workers", "--role", "boss"], "'--role': 'boss' is not one of 'worker', 'scheduler'"),
        (["jobs"], "Missing argument 'BATCH'. (see 'audiobatch jobs --help')"),
        (["nosuch"], "No such command 'nosuch'."),
        (["status", "a", "b"], "unexpected extra argument"),
        (["schedule", "add", "nightly", "--cron"], "requires an argument"),
    ],
)
def test_a_usage_error_is_one_line_on_stderr_and_exit_2(
    tmp_path: Path, args: list[str], says: str
) -> None:
    result = audiobatch(*args, cwd=tmp_path, env=clean_environment())
    assert result.returncode == 2
    assert result.stdout == ""
    assert len(result.stderr.splitlines()) == 1, result.stderr
    assert result.stderr.startswith("error: ")
    assert says.lower() in result.stderr.lower()


@pytest.mark.parametrize("group", [[], ["db"], ["schedule"]])
def test_a_group_without_a_command_prints_its_help_and_exits_2(
    tmp_path: Path, group: list[str]
) -> None:
    result = audiobatch(*group, cwd=tmp_path, env=clean_environment())
    assert result.returncode == 2
    assert "Usage: audiobatch" in result.stdout + result.stderr
    assert "Traceback" not in result.stdout + result.stderr


def test_version_prints_the_installed_version_and_exits_0(tmp_path: Path) -> None:
    result = audiobatch("--version", cwd=tmp_path, env=clean_environment())
    assert (result.returncode, result.stdout) == (0, f"audiobatch {version('audiobatch')}\n")


def test_download_into_a_file_instead_of_a_folder_is_a_usage_error(tmp_path: Path) -> None:
    (tmp_path / "out").write_text("mine")
    result = audiobatch("download", "demo", "out", cwd=tmp_path, env=clean_environment())
    assert (result.returncode, result.stdout) == (2, "")
    assert result.stderr.startswith("error: ") and "'out' is a file" in result.stderr
    assert (tmp_path / "out").read_text() == "mine"
