"""Values from the API fitted to the columns that keep them: cut, clamped, or kept as they are."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from audiobatch.db.columns import fit_to_columns, fit_value
from audiobatch.db.models import Artifact, Attempt, Batch, Job

NOW = datetime(2026, 1, 1, tzinfo=UTC)


def huge_attempt() -> Attempt:
    return Attempt(
        job_id=1,
        batch_id="b" * 32,
        number=1,
        worker="w1",
        started_at=NOW,
        finished_at=NOW,
        outcome="succeeded",
        http_status=10**12,
        error_code="e" * 500,
        error_message="m" * 100_000,
        request_id="r" * 10_000,
        latency_ms=-(10**15),
        character_cost=99999999999,
    )


def test_values_too_big_for_their_columns_are_cut_or_clamped() -> None:
    fitted = fit_to_columns(huge_attempt())
    assert fitted.character_cost == 2**31 - 1
    assert fitted.http_status == 2**31 - 1
    assert fitted.latency_ms == -(2**31)
    assert fitted.request_id == "r" * 128
    assert fitted.error_code == "e" * 64


def test_values_that_fit_are_kept_as_they_are() -> None:
    fitted = fit_to_columns(huge_attempt())
    assert fitted.error_message == "m" * 100_000  # Text has no length
    assert (fitted.job_id, fitted.batch_id, fitted.number) == (1, "b" * 32, 1)
    assert (fitted.worker, fitted.outcome, fitted.started_at) == ("w1", "succeeded", NOW)


def test_the_row_given_is_left_unchanged() -> None:
    attempt = huge_attempt()
    assert fit_to_columns(attempt) is not attempt
    assert attempt.character_cost == 99999999999


def test_unset_values_stay_unset_so_that_defaults_apply() -> None:
    fitted = fit_to_columns(Attempt(job_id=1, character_cost=None))
    assert fitted.id is None
    assert fitted.character_cost is None
    assert "request_id" not in fitted.__dict__


def test_big_integer_columns_take_64_bit_values() -> None:
    column = Artifact.__table__.c.bytes
    assert fit_value(column, 99999999999) == 99999999999
    assert fit_value(column, 10**30) == 2**63 - 1


def test_a_changed_value_is_logged_with_its_table_and_column(
    caplog: pytest.LogCaptureFixture,
) -> None:
    fit_to_columns(huge_attempt())
    assert "attempts.character_cost: 99999999999 does not fit the column" in caplog.text


def test_booleans_json_and_nulls_pass_through() -> None:
    assert fit_value(Batch.__table__.c.fresh, True) is True
    assert fit_value(Job.__table__.c.spec, {"a": 1}) == {"a": 1}
    assert fit_value(Attempt.__table__.c.character_cost, None) is None
