"""Every command in README.md's shell blocks runs as written from a fresh clone.

The blocks are read from the README itself, and their commands run in its order (later ones use the
batches earlier ones made) in a copy of the repository, on embedded defaults against the built-in
emulator: no API key, SQLite, the filesystem broker, a local ``renders/`` folder.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import httpx

from tests.acceptance.cli import clean_environment

REPO = Path(__file__).resolve().parents[2]
SHELL_BLOCK = re.compile(r"^```(?:sh|bash|shell)\n(.*?)^```", re.MULTILINE | re.DOTALL)

# Commands that cannot run here by their nature, matched by how they start, each with why.
NOT_RUN = {
    "make test": "runs the whole suite, this test among it",
    "export": "production settings: a real API key and servers (db, redis, a bucket) not here",
}
# Rendering the full season (three episodes, an hour of audio) takes minutes of CPU: these
# commands are validated with the same arguments instead, so the file and every voice they name
# must be there (tests/acceptance/test_full_length_episode.py renders it).
VALIDATED_ONLY = ".venv/bin/audiobatch run manifests/season.csv"
# Commands that serve until stopped: started in the background, they must still be serving once
# the last command has run; one given a --port must answer before the next command runs.
SERVING = tuple(f".venv/bin/audiobatch {name}" for name in ("worker", "scheduler", "dashboard"))
COMMAND_TIMEOUT_S = 60


def named(command: str, prefixes: tuple[str, ...]) -> bool:
    """Whether ``command`` is one of ``prefixes``, with or without more arguments."""
    return any(command == p or command.startswith(f"{p} ") for p in prefixes)


def readme_commands(text: str) -> list[str]:
    """The commands of ``text``'s shell blocks, in order: continued lines joined, comments left
    to the shell, blank and comment-only lines dropped."""
    commands: list[str] = []
    for block in SHELL_BLOCK.findall(text):
        for command in re.sub(r"\\\n\s*", "", block).splitlines():
            if command.strip() and not command.lstrip().startswith("#"):
                commands.append(command.strip())
    return commands


def fresh_clone(destination: Path) -> Path:
    """A copy of the repository without what .gitignore leaves out, with a ``.venv`` that is this
    test's virtualenv (its ``bin``, and the stamp that tells ``make`` it is installed)."""
    ignored = [
        line.rstrip("/").rsplit("/", 1)[-1]
        for line in (REPO / ".gitignore").read_text().splitlines()
        if line.strip() and not line.startswith("#")
    ]
    shutil.copytree(REPO, destination, ignore=shutil.ignore_patterns(".git", *ignored))
    venv = destination / ".venv"
    venv.mkdir()
    (venv / "bin").symlink_to(Path(sys.executable).parent, target_is_directory=True)
    (venv / ".installed").touch()
    return destination


@dataclass
class Server:
    """A command that serves until stopped, started in the background with its log."""

    command: str
    process: subprocess.Popen[bytes]
    log: Path

    def problem(self) -> str | None:
        """Why it is not serving, if it is not."""
        if self.process.poll() is None:
            return None
        return f"$ {self.command}\nstopped serving\n{self.log.read_text()}"


def start_server(command: str, cwd: Path, env: dict[str, str], log: Path) -> Server:
    """``command`` started; when it names a ``--port``, once that port answers."""
    with open(log, "wb") as handle:
        process = subprocess.Popen(
            ["bash", "-c", f"exec {command}"], cwd=cwd, env=env, stdout=handle, stderr=handle
        )
    server = Server(command, process, log)
    port = re.search(r"--port (\d+)", command)
    deadline = time.monotonic() + 30
    while port and server.problem() is None and time.monotonic() < deadline:
        try:
            httpx.get(f"http://127.0.0.1:{port[1]}/", timeout=1)
            break
        except httpx.TransportError:
            time.sleep(0.1)
    return server


def stop_all(servers: list[Server], grace_s: float = 15) -> None:
    """Stop every server, letting them wind down side by side."""
    for server in servers:
        server.process.terminate()
    deadline = time.monotonic() + grace_s
    for server in servers:
        try:
            server.process.wait(max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            server.process.kill()
            server.process.wait()


def test_every_readme_command_runs_as_written_from_a_fresh_clone(tmp_path: Path) -> None:
    clone = fresh_clone(tmp_path / "audiobatch")
    # The virtualenv is shared with the repository: the clone's own code is imported first.
    env = clean_environment(PYTHONPATH=str(clone))
    commands = readme_commands((clone / "README.md").read_text())
    assert any(named(c, (VALIDATED_ONLY,)) for c in commands)
    assert all(any(named(c, (s,)) for c in commands) for s in [*NOT_RUN, *SERVING])
    failures: list[str] = []
    servers: list[Server] = []
    try:
        for command in commands:
            if named(command, tuple(NOT_RUN)):
                continue
            if named(command, SERVING):
                servers.append(start_server(command, clone, env, tmp_path / f"{len(servers)}.log"))
                continue
            if named(command, (VALIDATED_ONLY,)):
                command = command.replace(" run ", " validate ", 1)
            result = subprocess.run(
                ["bash", "-c", command], cwd=clone, env=env, capture_output=True, text=True,
                timeout=COMMAND_TIMEOUT_S, check=False,
            )  # fmt: skip
            if result.returncode != 0:
                failures.append(
                    f"$ {command}\nexit {result.returncode}\n{result.stdout}{result.stderr}"
                )
        failures += [problem for server in servers if (problem := server.problem())]
    finally:
        stop_all(servers)
    assert not failures, "\n\n".join(failures)


def test_the_commands_are_read_from_the_blocks_with_their_continued_lines() -> None:
    text = "intro\n```sh\n# a note\nmake demo   # set-up\nrun a \\\n    --b c\n\n```\n```yaml\nx: 1\n```\n"
    assert readme_commands(text) == ["make demo   # set-up", "run a --b c"]
