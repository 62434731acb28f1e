"""A manifest's ``notify``: where its batch's webhooks go; bad events and URLs refused at their
line, with the reason."""

from __future__ import annotations

from pathlib import Path

import pytest

from audiobatch.manifest.notify import EVENTS, Notify, shown_url, url_problem
from tests.unit.manifest.helpers import HOST, load_one, problems, write

HEAD = f"""
batch: told
jobs:
  - id: talk
    kind: dialogue
    inputs: [{{voice: {HOST}, text: Hi}}]
notify:
"""


def test_notify_is_kept_with_every_event_by_default(tmp_path: Path) -> None:
    path = write(tmp_path, "m.yaml", HEAD + "  url: https://hooks.example.com/in?token=abc\n")
    assert load_one(path).notify == Notify("https://hooks.example.com/in?token=abc", EVENTS)


def test_events_and_failure_threshold_are_kept(tmp_path: Path) -> None:
    text = HEAD + (
        "  url: http://10.0.0.5:8080/hook\n"
        "  events: [batch.failure_threshold, batch.ended]\n"
        "  failure_threshold: 3\n"
    )
    notify = load_one(write(tmp_path, "m.yaml", text)).notify
    assert notify == Notify(
        "http://10.0.0.5:8080/hook", ("batch.failure_threshold", "batch.ended"), 3
    )


def test_an_unknown_event_is_refused_at_its_line_with_the_closest_name(tmp_path: Path) -> None:
    text = (
        HEAD
        + "  url: https://hooks.example.com/in\n  events:\n    - batch.ended\n    - batch.finished\n"
    )
    [problem] = problems([write(tmp_path, "m.yaml", text)])
    assert (problem.line, problem.field) == (10, "notify.events[1]")
    assert problem.message.startswith(
        "unknown event 'batch.finished' (did you mean 'batch.ended'?)"
    )


@pytest.mark.parametrize(
    ("url", "why"),
    [
        ("ftp://hooks.example.com/in", "must start with http:// or https://"),
        ("file:///etc/passwd", "must start with http:// or https://"),
        ("http://169.254.169.254/latest/meta-data/", "link-local"),
        ("http://[fe80::1]/hook", "link-local"),
        ("http://[::ffff:169.254.169.254]/", "link-local"),
        ("http://metadata.google.internal/computeMetadata/v1/", "cloud metadata endpoint"),
        ("http://[fd00:ec2::254]/latest/", "cloud metadata endpoint"),
        ("https:///no-host", "names no host"),
    ],
)
def test_urls_that_are_not_http_or_reach_metadata_are_refused(url: str, why: str) -> None:
    problem = url_problem(url)
    assert problem is not None and why in problem


def test_a_refused_url_is_reported_at_its_line(tmp_path: Path) -> None:
    text = HEAD + "  url: http://169.254.169.254/latest/meta-data/\n"
    [problem] = problems([write(tmp_path, "m.yaml", text)])
    assert (problem.line, problem.field) == (7, "notify.url")
    assert "link-local" in problem.message


def test_failure_threshold_events_need_a_threshold_and_thresholds_are_whole(
    tmp_path: Path,
) -> None:
    asked = HEAD + "  url: https://h.example/in\n  events: [batch.failure_threshold]\n"
    [missing] = problems([write(tmp_path, "a.yaml", asked)])
    assert missing.field == "notify.events" and "needs failure_threshold" in missing.message
    zero = HEAD + "  url: https://h.example/in\n  failure_threshold: 0\n"
    [low] = problems([write(tmp_path, "b.yaml", zero)])
    assert low.field == "notify.failure_threshold"


def test_an_unknown_notify_field_names_the_known_ones(tmp_path: Path) -> None:
    text = HEAD + "  url: https://h.example/in\n  event: [batch.ended]\n"
    [problem] = problems([write(tmp_path, "m.yaml", text)])
    assert problem.field == "notify.event" and "did you mean 'events'?" in problem.message


def test_urls_are_shown_without_credentials_or_query() -> None:
    assert shown_url("https://user:pw@h.example:8443/in?token=abc") == "https://h.example:8443/in"
