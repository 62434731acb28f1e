"""Estimates from manifests, the credit rate table and the account's fit, without a network."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from audiobatch.config import Settings
from audiobatch.elevenlabs.account import Subscription, parse_subscription
from audiobatch.errors import ApiTransportError
from audiobatch.estimate import (
    AccountCheck,
    CreditRates,
    Tally,
    estimate_manifest,
    estimate_manifests,
)
from audiobatch.manifest import load_manifests
from audiobatch.manifest.loaders import fold_manifests

MANIFEST = """batch: costed
voices: {host: JBFqnCBsd6RMkjVDRZzb}
jobs:
  - id: talk
    kind: dialogue
    inputs: [{voice: host, text: "Hello there."}, {voice: host, text: "Bye."}]
  - id: theme
    kind: music
    prompt: "lo-fi"
    music_length_ms: 90000
  - id: planned
    kind: music
    composition_plan:
      positive_global_styles: [jazz]
      negative_global_styles: []
      sections:
        - {section_name: a, positive_local_styles: [], negative_local_styles: [], duration_ms: 30000, lines: []}
  - id: free-length
    kind: music
    prompt: "anything"
  - id: redub
    kind: voice_change
    voice: host
    source: {from: talk}
"""


def manifest(tmp_path: Path) -> list:
    path = tmp_path / "m.yaml"
    path.write_text(MANIFEST)
    return load_manifests([path])


def test_an_estimate_counts_characters_per_kind_music_minutes_and_credits(tmp_path: Path) -> None:
    rates = CreditRates(character=0.5, music_minute=100)
    found = estimate_manifests(manifest(tmp_path), rates, AccountCheck(None, "no key"))
    [batch] = found.as_json()["batches"]
    assert batch["characters_by_kind"] == {"dialogue": 16}
    assert batch["music_minutes"] == 2.0  # 90 s by length, 30 s by plan
    assert batch["music_jobs_of_unknown_length"] == 1
    assert batch["jobs_priced_by_source"] == 1
    assert batch["credits"] == 8 + 200
    assert found.as_json()["account"] == {"checked": False, "reason": "no key", "fits": None}


def test_an_estimate_made_while_validating_equals_the_loaded_manifests(tmp_path: Path) -> None:
    path = tmp_path / "m.yaml"
    turn = '{voice: host, text: "' + "A line of the episode. " * 60 + '"}'
    path.write_text(f"{MANIFEST}  - {{id: episode, kind: dialogue, inputs: [{turn}, {turn}]}}\n")
    rates = CreditRates(character=0.5, music_minute=100)
    [folded] = fold_manifests([path], lambda: Tally(rates))
    [loaded] = load_manifests([path])
    assert folded == estimate_manifest(loaded, rates)
    assert folded.jobs == 6 and folded.parts == {"episode": 2}


def test_a_batch_fits_only_what_the_account_has_left(tmp_path: Path) -> None:
    reset = datetime(2030, 1, 1, tzinfo=UTC)
    rates = CreditRates(character=1, music_minute=0)
    roomy = AccountCheck(Subscription("creator", 100, 116, reset))
    tight = AccountCheck(Subscription("creator", 101, 116, reset))
    fits = estimate_manifests(manifest(tmp_path), rates, roomy)
    short = estimate_manifests(manifest(tmp_path), rates, tight)
    assert (fits.short_by, fits.as_json()["account"]["fits"]) == (0, True)
    assert (short.short_by, short.as_json()["account"]["fits"]) == (1, False)
    assert short.as_json()["account"]["next_reset"] == "2030-01-01T00:00:00+00:00"


@pytest.mark.parametrize(
    "rates",
    [
        '{"character": -1}',
        '{"music_minute": NaN}',
        '{"character": Infinity}',
        '{"character": 1e308}',
        '{"music_minute": 2e6}',
        '{"chars": 1}',
    ],
)
def test_rates_that_make_no_sense_are_refused(rates: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AUDIOBATCH_CREDIT_RATES", rates)
    with pytest.raises(ValidationError):
        Settings()


def test_a_subscription_answer_without_its_counts_is_a_transport_error() -> None:
    with pytest.raises(ApiTransportError):
        parse_subscription({"tier": "free", "character_count": "12"})
    parsed = parse_subscription(
        {"character_count": 5, "character_limit": 10, "next_character_count_reset_unix": 0}
    )
    assert (parsed.remaining, parsed.next_reset_at) == (5, datetime(1970, 1, 1, tzinfo=UTC))


JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=8),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=4), inner),
    max_leaves=6,
)
SUBSCRIPTION_FIELDS = ("tier", "character_count", "character_limit")


@settings(deadline=None)  # the first examples pay for warming up
@given(
    st.fixed_dictionaries(
        {},
        optional={
            name: JSON_VALUES | st.integers(min_value=-(10**30), max_value=10**30)
            for name in (*SUBSCRIPTION_FIELDS, "next_character_count_reset_unix")
        },
    )
)
def test_any_subscription_answer_is_read_or_refused_as_a_transport_error(body: dict) -> None:
    try:
        parsed = parse_subscription(body)
    except ApiTransportError:
        return
    assert 0 <= parsed.remaining <= parsed.character_limit
    assert parsed.next_reset_at is None or parsed.next_reset_at.tzinfo is UTC


@pytest.mark.parametrize(
    "reset", [10**15, -(10**15), float("nan"), float("inf"), 1e300, "1900000000", True, None]
)
def test_a_reset_time_that_is_no_time_is_an_unknown_reset(reset: object) -> None:
    body = {"character_count": 5, "character_limit": 10, "next_character_count_reset_unix": reset}
    assert parse_subscription(body).next_reset_at is None


@pytest.mark.parametrize(("count", "limit"), [(-5, 10), (5, -1), (True, 10), (5, 10.0)])
def test_counts_that_are_not_whole_and_non_negative_are_a_transport_error(
    count: object, limit: object
) -> None:
    with pytest.raises(ApiTransportError, match="non-negative"):
        parse_subscription({"character_count": count, "character_limit": limit})
