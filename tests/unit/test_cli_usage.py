"""Usage errors are one line on stderr with exit code 2, whichever click raised them."""

from __future__ import annotations

from collections.abc import Callable

import click
import pytest
import typer

from audiobatch.cli.main import run
from audiobatch.errors import NotFoundError


def raising(exc: BaseException) -> Callable[[], object]:
    def command() -> object:
        raise exc

    return command


@pytest.mark.parametrize(
    "exc",
    [
        click.UsageError("No such option: --colour"),  # click's own
        click.BadParameter("'nope' is not one of 'queued'", param_hint="'--status'"),
        typer.BadParameter("unknown queue(s) nope"),  # typer's copy of click since 0.29
    ],
)
def test_a_usage_error_is_one_line_on_stderr_and_exit_2(
    exc: Exception, capsys: pytest.CaptureFixture[str]
) -> None:
    assert run(raising(exc)) == 2
    out, err = capsys.readouterr()
    assert out == ""
    assert len(err.splitlines()) == 1
    assert err.startswith("error: ")


def test_a_usage_error_names_the_help_of_its_command(capsys: pytest.CaptureFixture[str]) -> None:
    context = click.Context(click.Command("jobs"), info_name="audiobatch jobs")
    assert run(raising(click.UsageError("Missing argument 'BATCH'.", ctx=context))) == 2
    assert capsys.readouterr().err == (
        "error: Missing argument 'BATCH'. (see 'audiobatch jobs --help')\n"
    )


def test_a_message_over_several_lines_is_told_on_one(capsys: pytest.CaptureFixture[str]) -> None:
    assert run(raising(click.UsageError("Got unexpected\nextra arguments\n"))) == 2
    assert capsys.readouterr().err == "error: Got unexpected extra arguments\n"


def test_other_click_errors_keep_their_exit_code_and_aborts_exit_130(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert run(raising(click.ClickException("cannot open the file"))) == 1
    assert capsys.readouterr().err == "error: cannot open the file\n"
    assert run(raising(typer.Abort())) == 130
    assert run(raising(click.exceptions.Abort())) == 130


def test_audiobatch_errors_and_return_codes_are_unchanged(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert run(raising(NotFoundError("no batch 'x'"))) == 2
    assert "no batch 'x'" in capsys.readouterr().err
    assert run(lambda: 3) == 3
    assert run(lambda: None) == 0
