"""Costs before and after, as an operator sees them: `estimate` on every example, the account
read from the emulator's quota, `run` refusing a batch the account cannot pay for and pausing
one at its `--budget`, and an account that cannot be read (nothing listening, an answer that
trickles in) never blocking."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from tests.acceptance.cli import audiobatch, clean_environment, running_emulator
from tests.acceptance.fleet import KEY, TEXT, write_manifest
from tests.hostile_api import Canned, HostileApi
from tests.services import free_port

REPO = Path(__file__).resolve().parents[2]
PER_JOB = len(TEXT.format(n=0))
BOUND_S = 90
PAUSED = 3


@pytest.mark.parametrize(
    "args",
    [
        ("demo.yaml",),
        ("podcast.yaml",),
        ("album.yaml",),
        ("voice-change.yaml",),
        ("season.csv", "--voices", "season-voices.yaml"),
    ],
)
def test_estimate_prices_every_example_and_says_the_account_was_not_checked(
    args: tuple[str, ...],
) -> None:
    env = clean_environment()
    found = audiobatch("estimate", *args, "--json", cwd=REPO / "manifests", env=env)
    assert found.returncode == 0, found.stderr
    estimate = json.loads(found.stdout)
    assert estimate["credits"] > 0
    assert estimate["account"]["checked"] is False
    assert "no API key" in estimate["account"]["reason"]


def test_estimate_reads_the_account_and_run_refuses_what_does_not_fit(tmp_path: Path) -> None:
    quota = ("--api-key", KEY, "--quota-chars", str(3 * PER_JOB))
    with running_emulator(*quota, cwd=tmp_path) as emulator_url:
        env = clean_environment(ELEVENLABS_API_KEY=KEY, AUDIOBATCH_API_URL=emulator_url)
        manifest = write_manifest(tmp_path, 6)
        found = audiobatch("estimate", str(manifest), "--json", cwd=tmp_path, env=env)
        assert found.returncode == 0, found.stderr
        account = json.loads(found.stdout)["account"]
        assert (account["used"], account["limit"], account["fits"]) == (0, 3 * PER_JOB, False)
        assert account["next_reset"]

        refused = audiobatch("run", str(manifest), cwd=tmp_path, env=env, timeout_s=BOUND_S)
        assert refused.returncode == 1
        assert f"needs about {6 * PER_JOB} credits" in refused.stderr
        assert "--allow-over" in refused.stderr
        assert re.search(r"it resets at \d{4}-\d\d-\d\d \d\d:\d\d UTC", refused.stderr)
        listed = audiobatch("status", "--json", cwd=tmp_path, env=env)
        assert json.loads(listed.stdout) == []  # nothing was written

        budget = str(PER_JOB)  # jobs in flight finish: under the quota of three
        paused = audiobatch(
            "run", str(manifest), "--allow-over", "--budget", budget, "--json",
            cwd=tmp_path, env=env, timeout_s=BOUND_S,
        )  # fmt: skip
    assert paused.returncode == PAUSED, paused.stdout + paused.stderr
    [report] = json.loads(paused.stdout)
    assert "character budget reached" in report["reason"]
    assert report["character_budget"] == PER_JOB
    assert report["characters"] >= PER_JOB
    assert sum(job["characters"] for job in report["jobs"]) == report["characters"]


def test_an_account_that_cannot_be_read_does_not_block_a_run(tmp_path: Path) -> None:
    api_url = f"http://127.0.0.1:{free_port()}"
    env = clean_environment(ELEVENLABS_API_KEY=KEY, AUDIOBATCH_API_URL=api_url)
    manifest = write_manifest(tmp_path, 1)
    found = audiobatch("estimate", str(manifest), cwd=tmp_path, env=env)
    assert found.returncode == 0, found.stderr
    said = " ".join(found.stdout.split())
    assert f"account not checked: could not read the account at {api_url}: " in said


def test_estimate_with_a_subscription_answer_that_trickles_says_how_slow_it_was(
    tmp_path: Path,
) -> None:
    subscription = {"tier": "creator", "character_count": 5, "character_limit": 10}
    body = json.dumps(subscription).encode() + b" " * 400  # whole only after 200 s at this pace
    with HostileApi(Canned(body, "application/json").trickled(1, 0.5)) as api:
        env = clean_environment(ELEVENLABS_API_KEY=KEY, AUDIOBATCH_API_URL=api.url)
        found = audiobatch("estimate", str(write_manifest(tmp_path, 1)), cwd=tmp_path, env=env)
    assert found.returncode == 0, found.stderr
    said = " ".join(found.stdout.split())
    assert f"account not checked: could not read the account at {api.url}: the API sent" in said
    assert "a whole answer may take" in said


def test_submitting_for_another_account_that_cannot_be_read_says_so(tmp_path: Path) -> None:
    accounts = tmp_path / "accounts"
    accounts.write_text("studio: studio-key\n")
    accounts.chmod(0o600)
    env = clean_environment(
        AUDIOBATCH_ACCOUNTS_FILE=str(accounts),
        AUDIOBATCH_API_URL=f"http://127.0.0.1:{free_port()}",
    )
    manifest = write_manifest(tmp_path, 1)
    submitted = audiobatch("submit", str(manifest), "--account", "studio", cwd=tmp_path, env=env)
    assert submitted.returncode == 0, submitted.stderr
    said = " ".join(submitted.stderr.split())
    assert "note: could not read the account" in said and "submitted unchecked" in said


@pytest.mark.parametrize(
    ("rates", "problem"),
    [('{"character": -2}', "greater than or equal to 0"), ("cheap", "expected JSON")],
)
def test_rates_and_budgets_that_make_no_sense_are_refused(
    tmp_path: Path, rates: str, problem: str
) -> None:
    manifest = write_manifest(tmp_path, 1)
    env = clean_environment(AUDIOBATCH_CREDIT_RATES=rates)
    refused = audiobatch("estimate", str(manifest), cwd=tmp_path, env=env)
    said = " ".join(refused.stderr.split())  # as wrapped at 80 columns
    assert refused.returncode == 2
    assert "credit_rates" in said and problem in said
    for budget, problem in [("0", "at least 1 character"), (str(2**64), "at most 2147483647")]:
        no_budget = audiobatch(
            "submit", str(manifest), "--budget", budget, cwd=tmp_path, env=clean_environment()
        )
        assert no_budget.returncode == 2
        assert f"--budget must be {problem}" in no_budget.stderr
