"""A host of the simulated cluster: a network namespace and hostname, a home folder (and spool) of
its own, and its ``audiobatch`` processes, which it restarts when they exit as a supervisor
(systemd, a container runtime) would."""

from __future__ import annotations

import shutil
import subprocess
import sys
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from tests.acceptance.cli import stop

STOP_GRACE_S = 10.0


@dataclass
class Host:
    """``commands`` are the ``audiobatch`` arguments of each process it keeps running."""

    name: str
    prefix: list[str]  # runs a program in the host's namespace, under its hostname
    folder: Path  # the host's disk: its AUDIOBATCH_HOME and the processes' logs
    env: Mapping[str, str]
    commands: list[tuple[str, ...]]
    processes: list[subprocess.Popen[bytes]] = field(default_factory=list)
    restarts: int = 0
    lost: bool = False

    def start(self) -> None:
        self.folder.mkdir(parents=True, exist_ok=True)
        self.processes = [self._start(command, n) for n, command in enumerate(self.commands)]

    def supervise(self) -> None:
        """Start again what exited (a worker that lost its leases exits for a fresh start)."""
        if self.lost:
            return
        for n, process in enumerate(self.processes):
            if process.poll() is not None:
                self.processes[n] = self._start(self.commands[n], n)
                self.restarts += 1

    def lose(self) -> None:
        """The host is gone: every process killed at once, its disk with them."""
        self.lost = True
        for process in self.processes:
            process.kill()
            process.wait()
        shutil.rmtree(self.folder)

    def stop(self) -> None:
        """Ask every process to stop (SIGTERM); ``wait`` sees them gone."""
        if not self.lost:
            for process in self.processes:
                process.terminate()

    def wait(self) -> None:
        if not self.lost:
            for process in self.processes:
                stop(process, grace_s=STOP_GRACE_S)

    def logs(self, tail_chars: int = 2000) -> str:
        if self.lost:
            return f"{self.name}: lost\n"
        return "".join(
            f"--- {self.name}/{log.name}\n{log.read_text(errors='replace')[-tail_chars:]}"
            for log in sorted(self.folder.glob("*.log"))
        )

    def _start(self, command: tuple[str, ...], n: int) -> subprocess.Popen[bytes]:
        with open(self.folder / f"{command[0]}{n}.log", "ab") as log:
            return subprocess.Popen(
                [*self.prefix, sys.executable, "-m", "audiobatch", *command],
                cwd=self.folder, env=dict(self.env), stdout=log, stderr=subprocess.STDOUT,
            )  # fmt: skip
