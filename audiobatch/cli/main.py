"""Entry point: runs the Typer app and turns audiobatch errors into messages and exit codes.

Exit codes: 0 success; 1 some jobs failed or an operation failed; 2 invalid input (a manifest, an
unknown batch or schedule, a cron expression or time zone, a setting that cannot work, a command
line that cannot be parsed: one line on stderr, or the help of a group run without a command).
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from importlib.metadata import PackageNotFoundError, version
from typing import Annotated

import typer
from rich.console import Console
from rich.markup import escape

from audiobatch.cli.check import check
from audiobatch.cli.commands import app
from audiobatch.cli.problem_summary import summary_lines
from audiobatch.cli.prune import prune
from audiobatch.cli.usage import ABORTS, CLICK_ERRORS, show_click_error
from audiobatch.cli.workers import workers
from audiobatch.errors import (
    AudiobatchError,
    ConfigError,
    ManifestError,
    NotFoundError,
    RetakeError,
    ScheduleError,
    TagError,
)

INVALID_INPUT = 2

app.command()(check)
app.command()(workers)
app.command()(prune)


def _print_version(asked: bool) -> None:
    if not asked:
        return
    try:
        installed = version("audiobatch")
    except PackageNotFoundError:
        installed = "unknown (the package is not installed)"
    typer.echo(f"audiobatch {installed}")
    raise typer.Exit()


@app.callback()
def _options(
    show_version: Annotated[
        bool,
        typer.Option(
            "--version", is_eager=True, callback=_print_version, help="Print the version and exit."
        ),
    ] = False,
) -> None:
    """Render audio in bulk."""


def run(command: Callable[[], object]) -> int:
    """Run ``command`` (the app, not standalone), print why it failed if it did; the exit code."""
    err = Console(stderr=True, soft_wrap=True)  # a path broken across lines cannot be copied
    try:
        code = command()
    except ManifestError as exc:
        err.print(f"[red]invalid manifest:[/] {len(exc.problems)} problem(s)", highlight=False)
        for line in summary_lines(exc.problems):
            err.print(f"  {line}", highlight=False, markup=False)
        return INVALID_INPUT
    except (ConfigError, NotFoundError, RetakeError, ScheduleError, TagError) as exc:
        err.print(f"[red]error:[/] {escape(str(exc))}", highlight=False)
        return INVALID_INPUT
    except AudiobatchError as exc:
        err.print(f"[red]error:[/] {escape(str(exc))}", highlight=False)
        return 1
    except ABORTS:
        err.print("aborted")
        return 130
    except CLICK_ERRORS as exc:
        return show_click_error(err, exc)
    return code if isinstance(code, int) else 0


def main() -> None:
    sys.exit(run(lambda: app(prog_name="audiobatch", standalone_mode=False)))
