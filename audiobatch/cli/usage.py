"""Usage errors, told the same way whichever click parses the command line.

Typer before 0.29 parses with click; typer 0.29 and later with a copy of click of its own, whose
exceptions are not click's. ``except click.UsageError`` misses those, and typer's exception hook
then prints them as a traceback with exit code 1. The classes below are taken from
``typer.BadParameter``'s ancestry as well as from click, so both kinds are caught.
"""

from __future__ import annotations

from typing import Any, Protocol, cast

import click
import typer
from rich.console import Console
from rich.markup import escape


def _parser_class(name: str) -> type[Exception]:
    """The class ``name`` of the click that typer parses with (click itself, or typer's copy)."""
    return next(cls for cls in typer.BadParameter.__mro__ if cls.__name__ == name)


USAGE_ERRORS: tuple[type[Exception], ...] = (click.UsageError, _parser_class("UsageError"))
"""An unknown option or command, a missing argument, a value the parameter refuses."""

CLICK_ERRORS: tuple[type[Exception], ...] = (click.ClickException, _parser_class("ClickException"))
"""Any error click shows to the user, usage errors included."""

ABORTS: tuple[type[BaseException], ...] = (click.exceptions.Abort, typer.Abort)
"""The user ended a prompt (end of input)."""


class _ShownError(Protocol):
    """What every click exception carries, in click and in typer's copy."""

    exit_code: int

    def format_message(self) -> str: ...


def show_click_error(console: Console, exc: Exception) -> int:
    """Print ``exc`` on one line (a bare group's help in full) and give its exit code (2 for usage).

    One line names what is wrong and the command whose ``--help`` tells more; a group run without
    a command (click 8.2's ``NoArgsIsHelpError``) has its help printed instead.
    """
    error = cast(_ShownError, exc)
    if any(cls.__name__ == "NoArgsIsHelpError" for cls in type(exc).__mro__):
        # Typer's rich help is printed (on stdout) as the error is made, leaving the message empty.
        if help_text := error.format_message():
            console.print(help_text, highlight=False, markup=False, soft_wrap=True)
        return error.exit_code
    # typer 0.29 checks a choice with pydantic, whose message keeps its "Value error, " prefix
    message = " ".join(error.format_message().split()).replace(": Value error, ", ": ")
    context: Any = getattr(exc, "ctx", None)
    if context is not None:
        message += f" (see '{context.command_path} --help')"
    console.print(f"[red]error:[/] {escape(message)}", highlight=False, soft_wrap=True)
    return error.exit_code
