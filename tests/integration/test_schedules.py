"""Schedules firing on real databases with a controlled clock: each call passes ``now``.

Daylight-saving changes in Europe/Berlin and America/New_York, schedulers racing, a scheduler down
across slots, overlap with a running batch, manifests missing or invalid at firing time.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import boto3
import pytest
from sqlalchemy import select, update

from audiobatch.db import schedules
from audiobatch.db.models import (
    Batch,
    BatchStatus,
    CatchUpPolicy,
    FiringOutcome,
    Job,
    JobStatus,
    OverlapPolicy,
    ScheduleFiring,
)
from audiobatch.db.reports import batch_summary
from audiobatch.db.session import session_scope
from audiobatch.db.submit import ScheduledRun, insert_batch
from audiobatch.errors import DatabaseRejectedError, ManifestError, ScheduleError
from audiobatch.manifest import load_manifests
from audiobatch.manifest.episodes import DEFAULT_PART_CHARS
from audiobatch.scheduler.checks import new_schedule
from audiobatch.scheduler.cron import slots_of
from audiobatch.scheduler.editing import set_enabled
from audiobatch.scheduler.firing import Fired, fire_due, fire_now
from tests.races import at_once

HOST = "JBFqnCBsd6RMkjVDRZzb"


def utc(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


def write_manifest(folder: Path, batch: str = "news", jobs: int = 2) -> Path:
    lines = [f"batch: {batch}", "jobs:"]
    lines += [
        f'  - {{id: brief-{n}, kind: dialogue, inputs: [{{voice: {HOST}, text: "Brief {n}."}}]}}'
        for n in range(jobs)
    ]
    path = folder / f"{batch}.yaml"
    path.write_text("\n".join(lines) + "\n")
    return path


def add(
    url: str,
    manifest: Path | str,
    now: datetime,
    *,
    name: str = "nightly",
    cron: str = "30 2 * * *",
    timezone: str = "Europe/Berlin",
    store: bool = False,
    overlap: OverlapPolicy = OverlapPolicy.SKIP,
    catch_up: CatchUpPolicy = CatchUpPolicy.LATEST,
) -> None:
    new = new_schedule(
        name, cron=cron, timezone=timezone, manifest=str(manifest), store=store,
        overlap=overlap, catch_up=catch_up, character_budget=None, now=now,
        part_chars=DEFAULT_PART_CHARS,
    )  # fmt: skip
    with session_scope(url) as session:
        schedules.add_schedule(session, new, now)


class Scheduler:
    """What the beat task does, at the times a test chooses; wake-ups are collected."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.published: list[tuple[int, str]] = []

    def fire(self, now: datetime) -> list[Fired]:
        return fire_due(self.url, self.published.extend, now, part_chars=DEFAULT_PART_CHARS)

    def every(self, start: datetime, end: datetime, step: timedelta) -> list[Fired]:
        fired, now = [], start
        while now <= end:
            fired += self.fire(now)
            now += step
        return fired


def batches(url: str) -> list[Batch]:
    with session_scope(url) as session:
        return list(session.scalars(select(Batch).order_by(Batch.slot_at)))


def firings(url: str) -> list[ScheduleFiring]:
    with session_scope(url) as session:
        return list(session.scalars(select(ScheduleFiring).order_by(ScheduleFiring.slot_at)))


def view(url: str, name: str = "nightly") -> dict[str, Any]:
    with session_scope(url) as session:
        return schedules.schedule_view(session, schedules.find_schedule(session, name))


def end_batches(url: str) -> None:
    with session_scope(url) as session:
        session.execute(update(Batch).values(status=BatchStatus.SUCCEEDED))


@pytest.mark.parametrize(
    ("cron", "zone", "start", "end", "slots", "names"),
    [
        # spring forward: 02:30 does not exist on 30 March and fires at 03:00 CEST instead
        ("30 2 * * *", "Europe/Berlin", "2025-03-29 20:00", "2025-03-31 04:00",
         ["2025-03-30 01:00", "2025-03-31 00:30"], ["news-2025-03-30", "news-2025-03-31"]),
        # fall back: 02:30 happens twice on 26 October and fires the first time only
        ("30 2 * * *", "Europe/Berlin", "2025-10-25 20:00", "2025-10-27 04:00",
         ["2025-10-26 00:30", "2025-10-27 01:30"], ["news-2025-10-26", "news-2025-10-27"]),
        ("30 2 * * *", "America/New_York", "2025-03-08 20:00", "2025-03-10 09:00",
         ["2025-03-09 07:00", "2025-03-10 06:30"], ["news-2025-03-09", "news-2025-03-10"]),
        ("30 1 * * *", "America/New_York", "2025-11-01 20:00", "2025-11-03 09:00",
         ["2025-11-02 05:30", "2025-11-03 06:30"], ["news-2025-11-02", "news-2025-11-03"]),
    ],
)  # fmt: skip
def test_a_schedule_fires_once_per_slot_on_time_across_a_daylight_saving_change(
    database_url: str,
    tmp_path: Path,
    cron: str,
    zone: str,
    start: str,
    end: str,
    slots: list[str],
    names: list[str],
) -> None:
    add(
        database_url, write_manifest(tmp_path), utc(start), cron=cron, timezone=zone,
        overlap=OverlapPolicy.ALLOW,  # no workers here: the first batch never ends
    )  # fmt: skip
    scheduler = Scheduler(database_url)

    fired = scheduler.every(utc(start), utc(end), timedelta(minutes=4))

    assert [(f.slot_at, f.outcome, f.reason) for f in fired] == [
        (utc(slot), FiringOutcome.FIRED, None) for slot in slots
    ]
    found = batches(database_url)
    assert [(b.slot_at, b.name) for b in found] == list(zip(map(utc, slots), names, strict=True))
    # each firing came within one tick of its slot
    assert all(f.fired_at - f.slot_at < timedelta(minutes=4) for f in firings(database_url))


def test_schedulers_racing_for_a_slot_create_one_batch_and_no_error(
    database_url: str, tmp_path: Path
) -> None:
    add(database_url, write_manifest(tmp_path, jobs=3), utc("2026-01-01 12:00"), timezone="UTC")
    now = utc("2026-01-02 02:30:05")
    racers = 6
    results = at_once([lambda: Scheduler(database_url).fire(now)] * racers)
    assert sorted(len(r) for r in results) == [0] * (racers - 1) + [1]
    [batch] = batches(database_url)
    assert len(firings(database_url)) == 1
    with session_scope(database_url) as session:
        assert session.scalar(select(Job.id).where(Job.batch_id != batch.id)) is None
        assert len(list(session.scalars(select(Job)))) == 3  # the winner's batch, whole


def test_sql_refuses_a_second_batch_for_the_same_slot(database_url: str, tmp_path: Path) -> None:
    add(database_url, write_manifest(tmp_path), utc("2026-01-01 12:00"))
    [manifest] = load_manifests([tmp_path / "news.yaml"])
    with session_scope(database_url) as session:
        schedule_id = schedules.find_schedule(session, "nightly").id
    run = ScheduledRun(schedule_id, utc("2026-01-02 01:30"))
    with session_scope(database_url) as session:
        insert_batch(session, manifest, utc("2026-01-02 01:30"), scheduled=run)
    with pytest.raises(DatabaseRejectedError), session_scope(database_url) as session:
        insert_batch(session, manifest, utc("2026-01-02 01:31"), scheduled=run)
    assert len(batches(database_url)) == 1


def test_a_scheduler_down_across_slots_runs_the_latest_missed_one_once(
    database_url: str, tmp_path: Path
) -> None:
    add(database_url, write_manifest(tmp_path), utc("2026-01-01 12:00"), timezone="UTC")
    scheduler = Scheduler(database_url)

    # down from before the slot of 2 January until 4 January, 10:00
    [fired] = scheduler.fire(utc("2026-01-04 10:00"))
    assert scheduler.fire(utc("2026-01-04 10:00:15")) == []

    assert (fired.slot_at, fired.outcome) == (utc("2026-01-04 02:30"), FiringOutcome.FIRED)
    assert fired.reason and fired.reason.startswith("caught up: no scheduler ran")
    [batch] = batches(database_url)
    assert batch.name == "news-2026-01-04"
    assert view(database_url)["next_run"] == "2026-01-05T02:30:00+00:00"


def test_with_catch_up_skip_a_missed_slot_is_recorded_and_the_next_one_fires(
    database_url: str, tmp_path: Path
) -> None:
    add(
        database_url, write_manifest(tmp_path), utc("2026-01-01 12:00"), timezone="UTC",
        catch_up=CatchUpPolicy.SKIP,
    )  # fmt: skip
    scheduler = Scheduler(database_url)

    [skipped] = scheduler.fire(utc("2026-01-02 09:00"))
    assert skipped.outcome is FiringOutcome.SKIPPED and batches(database_url) == []
    assert view(database_url)["last_run"]["reason"] == (
        "missed: no scheduler ran at 2026-01-02T02:30:00+00:00 (catch-up: skip)"
    )
    [fired] = scheduler.fire(utc("2026-01-03 02:31"))  # back in time for the next slot
    assert (fired.outcome, fired.reason) == (FiringOutcome.FIRED, None)


def test_a_slot_is_skipped_while_the_previous_batch_runs_unless_overlap_is_allowed(
    database_url: str, tmp_path: Path
) -> None:
    manifest = write_manifest(tmp_path)
    add(database_url, manifest, utc("2026-01-01 12:00"), timezone="UTC")
    add(
        database_url, manifest, utc("2026-01-01 12:00"), timezone="UTC", name="overlapping",
        overlap=OverlapPolicy.ALLOW,
    )  # fmt: skip
    scheduler = Scheduler(database_url)
    assert len(scheduler.fire(utc("2026-01-02 02:30"))) == 2
    with session_scope(database_url) as session:  # the first night's batches are running
        session.execute(update(Batch).values(status=BatchStatus.RUNNING))

    second = {f.schedule: f for f in scheduler.fire(utc("2026-01-03 02:30"))}

    assert second["overlapping"].outcome is FiringOutcome.FIRED
    assert second["nightly"].outcome is FiringOutcome.SKIPPED
    first_batch = view(database_url)["last_batch"]
    assert second["nightly"].reason == (
        f"the previous batch news-2026-01-02 [{first_batch['id']}] is still running (overlap: skip)"
    )
    end_batches(database_url)
    third = {f.schedule: f.outcome for f in scheduler.fire(utc("2026-01-04 02:30"))}
    assert third == {"nightly": FiringOutcome.FIRED, "overlapping": FiringOutcome.FIRED}


def test_a_manifest_missing_or_invalid_at_firing_records_a_failed_firing_and_others_fire(
    database_url: str, tmp_path: Path
) -> None:
    manifest = write_manifest(tmp_path)
    add(database_url, manifest, utc("2026-01-01 12:00"), timezone="UTC")
    add(database_url, write_manifest(tmp_path, "other"), utc("2026-01-01 12:00"), name="other")
    manifest.unlink()
    scheduler = Scheduler(database_url)

    outcomes = {f.schedule: f for f in scheduler.fire(utc("2026-01-02 02:30"))}

    assert outcomes["nightly"].outcome is FiringOutcome.FAILED
    assert outcomes["other"].outcome is FiringOutcome.FIRED
    last = view(database_url)["last_run"]
    assert last["outcome"] == "failed" and "cannot read the file" in last["reason"]
    assert str(manifest) in last["reason"]

    manifest.write_text("batch: news\njobs: [{id: Bad_Id, kind: dialogue}]\n")
    [failed] = [f for f in scheduler.fire(utc("2026-01-03 02:30")) if f.schedule == "nightly"]
    assert failed.reason and failed.reason.startswith("invalid manifest:")
    assert ":2: jobs[0].id" in failed.reason  # located, as `audiobatch validate` would say

    write_manifest(tmp_path)
    [fired] = [f for f in scheduler.fire(utc("2026-01-04 02:30")) if f.schedule == "nightly"]
    assert fired.outcome is FiringOutcome.FIRED


def test_a_stored_manifest_fires_after_its_file_is_gone(database_url: str, tmp_path: Path) -> None:
    manifest = write_manifest(tmp_path)
    add(database_url, manifest, utc("2026-01-01 12:00"), timezone="UTC", store=True)
    manifest.unlink()
    [fired] = Scheduler(database_url).fire(utc("2026-01-02 02:30"))
    assert fired.outcome is FiringOutcome.FIRED
    assert view(database_url)["stored"] is True


@pytest.fixture
def s3_manifest(
    s3_server: str, s3_bucket: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[Callable[[str], str]]:
    """Put a manifest in the test's bucket under a key; its s3:// URI."""
    monkeypatch.setenv("AWS_ENDPOINT_URL", s3_server)
    s3 = boto3.client("s3", endpoint_url=s3_server, region_name="us-east-1")

    def put(key: str) -> str:
        body = write_manifest(tmp_path).read_bytes()
        s3.put_object(Bucket=s3_bucket, Key=key, Body=body)
        return f"s3://{s3_bucket}/{key}"

    yield put


def test_an_s3_manifest_is_read_at_firing_and_a_missing_one_fails_the_firing(
    database_url: str, s3_manifest: Callable[[str], str]
) -> None:
    uri = s3_manifest("shows/news.yaml")
    add(database_url, uri, utc("2026-01-01 12:00"), timezone="UTC")
    add(database_url, uri + ".old", utc("2026-01-01 12:00"), timezone="UTC", name="gone")

    outcomes = {f.schedule: f for f in Scheduler(database_url).fire(utc("2026-01-02 02:30"))}

    assert outcomes["nightly"].outcome is FiringOutcome.FIRED
    assert outcomes["gone"].outcome is FiringOutcome.FAILED
    assert outcomes["gone"].reason == f"cannot read the manifest: {uri}.old does not exist"


def test_a_paused_schedule_does_not_fire_and_resumes_from_its_next_slot(
    database_url: str, tmp_path: Path
) -> None:
    add(database_url, write_manifest(tmp_path), utc("2026-01-01 12:00"), timezone="UTC")
    slots = slots_of("30 2 * * *", "UTC")
    with session_scope(database_url) as session:
        schedule = schedules.find_schedule(session, "nightly")
        schedules.set_enabled(session, schedule, False, schedule.next_slot_at)
    scheduler = Scheduler(database_url)
    assert scheduler.fire(utc("2026-01-02 02:30")) == []
    assert view(database_url)["next_run"] is None

    resumed_at = utc("2026-01-05 12:00")
    with session_scope(database_url) as session:
        schedule = schedules.find_schedule(session, "nightly")
        schedules.set_enabled(session, schedule, True, slots.next_after(resumed_at))
    assert scheduler.fire(resumed_at) == []  # the slots missed while paused are not caught up
    [fired] = scheduler.fire(utc("2026-01-06 02:30"))
    assert fired.slot_at == utc("2026-01-06 02:30")


def test_resuming_a_running_schedule_keeps_its_due_slot(database_url: str, tmp_path: Path) -> None:
    add(database_url, write_manifest(tmp_path), utc("2026-01-01 12:00"), timezone="UTC")
    due = utc("2026-01-02 02:30")
    # a second tab resumes it a second after its slot, before the scheduler's tick took it
    toggled = set_enabled(database_url, "nightly", True, due + timedelta(seconds=1))
    assert toggled.next_slot_at == due
    [fired] = Scheduler(database_url).fire(due + timedelta(seconds=2))
    assert fired.slot_at == due


def test_run_fires_now_and_the_batch_names_its_schedule(database_url: str, tmp_path: Path) -> None:
    add(database_url, write_manifest(tmp_path), utc("2026-01-01 12:00"))
    published: list[tuple[int, str]] = []
    now = utc("2026-01-01 23:30")  # 00:30 on 2 January in Berlin

    fired = fire_now(database_url, published.extend, "nightly", now, part_chars=DEFAULT_PART_CHARS)

    assert fired.outcome is FiringOutcome.FIRED and len(published) == 2
    with session_scope(database_url) as session:
        summary = batch_summary(session, session.get_one(Batch, fired.batch_id))
    assert summary["name"] == "news-2026-01-02"
    assert summary["schedule"] == "nightly"
    assert summary["counts"][JobStatus.QUEUED.value] == 2
    assert view(database_url)["next_run"] == "2026-01-02T01:30:00+00:00"  # its slots unchanged


def test_schedule_add_refuses_bad_input_before_writing_anything(
    database_url: str, tmp_path: Path
) -> None:
    manifest = write_manifest(tmp_path)
    now = utc("2026-01-01 12:00")
    with pytest.raises(ScheduleError, match="minute '99'"):
        add(database_url, manifest, now, cron="99 2 * * *")
    with pytest.raises(ScheduleError, match="unknown time zone 'Europe/Atlantis'"):
        add(database_url, manifest, now, timezone="Europe/Atlantis")
    with pytest.raises(ScheduleError, match=r"'Europe/Berln' \(did you mean 'Europe/Berlin'\?\)"):
        add(database_url, manifest, now, timezone="Europe/Berln")
    with pytest.raises(ScheduleError, match=r"'missing\.yaml': no such file"):
        add(database_url, "missing.yaml", now)
    with pytest.raises(ScheduleError, match="must name an object"):
        add(database_url, "s3://bucket-only", now)
    (tmp_path / "broken.yaml").write_text("batch: x\njobs: []\n")
    with pytest.raises(ManifestError):
        add(database_url, tmp_path / "broken.yaml", now)
    add(database_url, manifest, now)
    with pytest.raises(ScheduleError, match="a schedule named 'nightly' exists"):
        add(database_url, manifest, now)
    with session_scope(database_url) as session:
        assert [s.name for s in schedules.list_schedules(session)] == ["nightly"]


def test_a_scheduled_season_is_cut_into_parts_like_a_submitted_one(
    database_url: str, tmp_path: Path
) -> None:
    rows = ["episode,voice,text"] + [
        f'ep1,{HOST},"Sentence {n} of the nightly episode, long enough to need parts."'
        for n in range(40)
    ]
    season = tmp_path / "season.csv"
    season.write_text("\n".join(rows) + "\n")
    add(database_url, season, utc("2026-03-01 00:00"), store=True)
    [fired] = fire_due(database_url, lambda _: None, utc("2026-03-01 01:30"), part_chars=500)
    assert fired.outcome is FiringOutcome.FIRED
    with session_scope(database_url) as session:
        jobs = dict(
            session.execute(
                select(Job.key, Job.part_of).where(Job.batch_id == fired.batch_id)
            ).all()
        )
        episode = session.scalar(select(Job.id).where(Job.key == "ep1"))
    parts = sorted(key for key in jobs if key != "ep1")
    assert len(parts) >= 5 and parts[0] == "ep1/part-001"
    assert {jobs[key] for key in parts} == {episode}
