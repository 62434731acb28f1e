"""`retake` from the command line: a job that is not an episode, or one that does not exist, is
invalid input (exit 2) with a message that says which and what to do."""

from __future__ import annotations

from pathlib import Path

from tests.acceptance.cli import audiobatch, clean_environment
from tests.acceptance.test_batch_tags import write_manifest


def test_a_retake_of_a_job_that_is_no_episode_is_refused_as_invalid_input(
    tmp_path: Path,
) -> None:
    env = clean_environment()
    manifest = write_manifest(tmp_path, "short")
    assert audiobatch("submit", str(manifest), cwd=tmp_path, env=env).returncode == 0

    plain = audiobatch("retake", "short", "--job", "one", "--turn", "0", cwd=tmp_path, env=env)
    assert plain.returncode == 2
    assert "job 'one' of batch short" in plain.stderr and "is not an episode" in plain.stderr
    missing = audiobatch("retake", "short", "--job", "two", "--turn", "0", cwd=tmp_path, env=env)
    assert missing.returncode == 2 and "has no job 'two'" in missing.stderr
    negative = audiobatch("retake", "short", "--job", "one", "--turn", "-1", cwd=tmp_path, env=env)
    assert negative.returncode == 2 and "--turn" in negative.stderr
