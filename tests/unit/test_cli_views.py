"""What the CLI's batch views say where there is nothing to show."""

from __future__ import annotations

from typing import Any
from zoneinfo import ZoneInfo

import pytest
from rich.console import Console

from audiobatch.cli import views

UTC = ZoneInfo("UTC")


def batch(status: str) -> dict[str, Any]:
    return {
        "id": "b1", "name": "demo", "status": status, "counts": {status: 1}, "characters": 0,
        "music_minutes": 0, "backend": None, "created_at": "2026-07-01T12:30:45+00:00",
        "jobs": [], "tags": [],
    }  # fmt: skip


def printed(show: Any, *args: Any, **kwargs: Any) -> str:
    console = Console(record=True, width=200)
    show(console, *args, **kwargs)
    return console.export_text()


@pytest.mark.parametrize(
    ("status", "says"),
    [("queued", "none yet"), ("paused", "none yet"), ("failed", "none"), ("cancelled", "none")],
)
def test_a_batch_nothing_rendered_has_no_backend_yet_only_while_it_has_not_ended(
    status: str, says: str
) -> None:
    assert f"  backend: {says}\n" in printed(views.print_batch, batch(status), UTC)
    listed = printed(views.print_batches, [batch(status)], UTC)
    assert ("none yet" in listed) == (says == "none yet")


def test_an_empty_batch_list_filtered_by_a_tag_names_the_tag() -> None:
    assert (
        printed(views.print_batches, [], UTC, tag="weekly") == "no batch carries the tag 'weekly'\n"
    )
    assert printed(views.print_batches, [], UTC).startswith("no batches yet: `audiobatch submit")
