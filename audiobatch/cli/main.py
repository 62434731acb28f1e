"""Entry point: runs the Typer app and turns audiobatch errors into messages and exit codes.

Exit codes: 0 success; 1 some jobs failed or an operation failed; 2 invalid input (a manifest, an
unknown batch or schedule, a cron expression or time zone, a setting that cannot work).
"""

from __future__ import annotations

import sys

import click
from rich.console import Console
from rich.markup import escape

from audiobatch.cli.check import check
from audiobatch.cli.commands import app
from audiobatch.cli.workers import workers
from audiobatch.errors import (
    AudiobatchError,
    ConfigError,
    ManifestError,
    NotFoundError,
    ScheduleError,
)

INVALID_INPUT = 2

app.command()(check)
app.command()(workers)


def main() -> None:
    err = Console(stderr=True)
    try:
        code = app(standalone_mode=False)
    except ManifestError as exc:
        err.print(f"[red]invalid manifest:[/] {len(exc.problems)} problem(s)", highlight=False)
        for problem in exc.problems:
            err.print(f"  {problem}", highlight=False, markup=False)
        sys.exit(INVALID_INPUT)
    except (ConfigError, NotFoundError, ScheduleError) as exc:
        err.print(f"[red]error:[/] {escape(str(exc))}", highlight=False)
        sys.exit(INVALID_INPUT)
    except AudiobatchError as exc:
        err.print(f"[red]error:[/] {escape(str(exc))}", highlight=False)
        sys.exit(1)
    except click.exceptions.Abort:
        err.print("aborted")
        sys.exit(130)
    except click.ClickException as exc:
        exc.show()
        sys.exit(exc.exit_code)
    sys.exit(code if isinstance(code, int) else 0)
