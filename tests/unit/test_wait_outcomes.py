"""The exit code of a wait: a paused batch needs someone, whatever the others did."""

from __future__ import annotations

import pytest

from audiobatch.batch_states import BatchState
from audiobatch.cli.outcomes import PAUSED, SOME_FAILED, SUCCESS, exit_code
from audiobatch.db.models import BatchStatus
from audiobatch.eta import Eta


def state(status: BatchStatus) -> BatchState:
    return BatchState("b1", "demo", status, None, {}, stitching=0, eta=Eta(None))


@pytest.mark.parametrize(
    ("statuses", "code"),
    [
        ([BatchStatus.SUCCEEDED, BatchStatus.SUCCEEDED], SUCCESS),
        ([BatchStatus.SUCCEEDED, BatchStatus.PARTIAL], SOME_FAILED),
        ([BatchStatus.FAILED], SOME_FAILED),
        ([BatchStatus.CANCELLED], SOME_FAILED),
        ([BatchStatus.SUCCEEDED, BatchStatus.PAUSED], PAUSED),
        ([BatchStatus.FAILED, BatchStatus.PAUSED], PAUSED),
    ],
)
def test_a_paused_batch_makes_the_exit_code_3_else_failures_make_it_1(
    statuses: list[BatchStatus], code: int
) -> None:
    assert exit_code(state(s) for s in statuses) == code
