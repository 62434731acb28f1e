"""The CLI prints times in ``AUDIOBATCH_TIME_ZONE``, with the zone's abbreviation."""

from __future__ import annotations

from typing import Any
from zoneinfo import ZoneInfo

from rich.console import Console

from audiobatch.cli import views

ROW: dict[str, Any] = {
    "id": "b1", "name": "demo", "status": "paused", "counts": {"paused": 2}, "characters": 10,
    "music_minutes": 0, "backend": None, "created_at": "2026-07-01T12:30:45+00:00",
    "continues_at": "2026-07-02T00:00:00+00:00", "jobs": [], "tags": [],
}  # fmt: skip


def printed(show: Any, *args: Any) -> str:
    console = Console(record=True, width=200)
    show(console, *args)
    return console.export_text()


def test_the_batch_list_shows_when_each_batch_was_made_in_the_zone() -> None:
    assert "2026-07-01 14:30 CEST" in printed(views.print_batches, [ROW], ZoneInfo("Europe/Berlin"))
    assert "2026-07-01 12:30 UTC" in printed(views.print_batches, [ROW], ZoneInfo("UTC"))


def test_a_paused_batch_says_when_it_continues_in_the_zone_and_how_soon() -> None:
    text = printed(views.print_batch, ROW, ZoneInfo("America/New_York"))
    assert "continues at: 2026-07-01 20:00 EDT (" in text
    assert "the account's quota resets" in text
