"""Loudness against the emulator: a season's episode stitched to ``podcast``, an audiobook
chapter to ACX's rules, a single output to levels of its own; each measured by an outside meter
(pyloudnorm, scipy) on the stored file."""

from __future__ import annotations

import html
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from audiobatch.control import retake
from audiobatch.dashboard.app import create_app
from audiobatch.db.migrate import upgrade
from audiobatch.db.models import Attempt, Job
from audiobatch.db.session import session_scope
from audiobatch.emulator import EmulatorConfig, RunningEmulator, serve_in_thread
from audiobatch.manifest import load_manifests
from tests import outside_meter
from tests.dashboard_stack import dashboard_settings
from tests.integration.test_episodes import (
    KEY,
    VOICES,
    local,
    report,
    run_queued,
    runtime,
    submit,
)


@pytest.fixture(scope="module")
def emulator() -> Iterator[RunningEmulator]:
    with serve_in_thread(EmulatorConfig(concurrency=4, api_keys=frozenset({KEY}))) as running:
        yield running


def render_season(
    url: str, emulator_url: str, tmp_path: Path, **defaults: Any
) -> dict[str, dict[str, Any]]:
    """One episode of 12 turns in 4 voices (a minute and a half), cut into parts of at most 400
    characters, rendered with ``defaults``: every job of the ended batch by id."""
    rows = ["episode,voice,text"]
    for n in range(12):
        text = f"Turn {n} begins here. It says a few more words about batches, number {n}!"
        rows.append(f'pilot,v{n % 4},"{text} And then it ends."')
    path = tmp_path / "season.csv"
    path.write_text("\n".join(rows) + "\n")
    voices = {f"v{n}": voice for n, voice in enumerate(VOICES)}
    [season] = load_manifests([path], voices=voices, defaults=defaults, part_chars=400)
    upgrade(url)
    batch_id = submit(url, season)
    run_queued(url, runtime(url, emulator_url, tmp_path))
    result = report(url, batch_id)
    assert result["status"] == "succeeded"
    return {job["id"]: job for job in result["jobs"]}


def outputs(job: dict[str, Any]) -> dict[str, Path]:
    return {output["name"]: local(output) for output in job["outputs"]}


def dashboard_job(url: str, tmp_path: Path, key: str) -> tuple[dict[str, Any], str]:
    """Job ``key`` as the dashboard shows it: its JSON API answer and its page."""
    with session_scope(url) as session:
        job_id = session.scalars(select(Job.id).where(Job.key == key)).one()
    app = create_app(dashboard_settings(url, tmp_path))
    with TestClient(app, base_url="http://localhost") as client:
        return client.get(f"/api/jobs/{job_id}").json(), client.get(f"/jobs/{job_id}").text


def measured_row(page: str, measure: str) -> str:
    """The row of the job page's loudness table for one measure: its label, before, after."""
    start = page.index(f'<tr data-measure="{measure}">')
    return page[start : page.index("</tr>", start)]


def test_a_season_episode_stitched_to_podcast_loudness_measures_minus_16_lufs_outside(
    sqlite_url: str, emulator: RunningEmulator, tmp_path: Path
) -> None:
    jobs = render_season(
        sqlite_url,
        emulator.url,
        tmp_path,
        output_format="mp3_22050_32",
        part_pause_ms=300,
        loudness="podcast",
    )
    episode = outputs(jobs["pilot"])
    assert {"audio.mp3", "loudness.json", "alignment.json"} <= set(episode)
    audio = episode["audio.mp3"]
    assert abs(outside_meter.integrated_lufs(audio) - -16.0) <= 1.0
    assert outside_meter.true_peak_db(audio) <= -1.0

    measured = json.loads(episode["loudness.json"].read_text())
    assert measured["standard"] == "podcast"
    assert measured["target"] == {"integrated_lufs": -16.0, "true_peak_db": -1.0}
    assert measured["before"]["integrated_lufs"] < -17.0  # the emulator speaks quieter
    assert abs(measured["after"]["integrated_lufs"] - outside_meter.integrated_lufs(audio)) < 0.5
    assert measured["gain_db"] > 1.0 and measured["gain_reduced_db"] == 0.0
    assert measured["notes"] == [] and measured["acx"] is None
    parts = [job for key, job in jobs.items() if key.startswith("pilot/part-")]
    assert len(parts) >= 3
    assert all("loudness.json" not in outputs(part) for part in parts)
    assert jobs["pilot"]["loudness"] == measured  # status --json says what the file says
    assert all(part["loudness"] is None for part in parts)

    # a retake stitches the episode again, and its record is written anew with the new take's
    # outputs (the emulator's voices measure alike whatever the seed: the old value is marked)
    with session_scope(sqlite_url) as session:
        pilot = session.scalars(select(Job).where(Job.key == "pilot")).one()
        batch_id, pilot.loudness = pilot.batch_id, {"standard": "of the first take"}
    retake(sqlite_url, lambda _: None, batch_id, episode="pilot", turn=5, seed=7)
    run_queued(sqlite_url, runtime(sqlite_url, emulator.url, tmp_path))
    [again] = [job for job in report(sqlite_url, batch_id)["jobs"] if job["id"] == "pilot"]
    stored = outputs(again)["loudness.json"]
    assert stored.parent.name == "take-2"
    assert again["loudness"] == json.loads(stored.read_text())


def test_an_audiobook_chapter_meets_acx_rms_peak_and_noise_floor(
    sqlite_url: str, emulator: RunningEmulator, tmp_path: Path
) -> None:
    # a second of room between two parts: the quiet stretch ACX reads the noise floor from
    jobs = render_season(
        sqlite_url,
        emulator.url,
        tmp_path,
        output_format="mp3_44100_128",
        part_pause_ms=1000,
        loudness="audiobook",
    )
    chapter = outputs(jobs["pilot"])
    audio = chapter["audio.mp3"]
    assert -23.0 <= outside_meter.rms_db(audio) <= -18.0
    assert outside_meter.sample_peak_db(audio) <= -3.0
    assert outside_meter.noise_floor_db(audio) <= -60.0
    measured = json.loads(chapter["loudness.json"].read_text())
    assert measured["acx"] == {"rms_ok": True, "peak_ok": True, "noise_floor_ok": True}
    assert abs(measured["after"]["rms_db"] - outside_meter.rms_db(audio)) < 0.5

    shown, page = dashboard_job(sqlite_url, tmp_path, "pilot")
    assert shown["loudness"] == measured
    assert "<h2>Loudness</h2>" in page and "audiobook: RMS -20.5 dB" in page
    rms = measured_row(page, "rms_db")
    before, after = measured["before"]["rms_db"], measured["after"]["rms_db"]
    assert f"<td>{before:.1f} dB</td><td>{after:.1f} dB</td>" in rms and "meets" in rms
    assert "meets" in measured_row(page, "noise_floor_db")


def test_an_audiobook_without_room_tone_says_its_noise_floor_fails_acx(
    sqlite_url: str, emulator: RunningEmulator, tmp_path: Path
) -> None:
    jobs = render_season(
        sqlite_url, emulator.url, tmp_path, output_format="mp3_22050_32", loudness="audiobook"
    )
    chapter = outputs(jobs["pilot"])
    assert outside_meter.noise_floor_db(chapter["audio.mp3"]) > -60.0  # no half second of quiet
    measured = json.loads(chapter["loudness.json"].read_text())
    assert measured["acx"]["noise_floor_ok"] is False
    [note] = measured["notes"]
    assert "above ACX's -60 dB" in note


def test_a_single_output_is_brought_to_its_own_levels_and_a_clipping_gain_is_reduced(
    sqlite_url: str, emulator: RunningEmulator, tmp_path: Path
) -> None:
    path = tmp_path / "one.yaml"
    path.write_text(
        "batch: one\n"
        "jobs:\n"
        "  - id: quiet\n"
        "    kind: dialogue\n"
        "    loudness: {integrated_lufs: -24, true_peak_db: -2}\n"
        f'    inputs: [{{voice: {VOICES[0]}, text: "A short line, said once, then done."}}]\n'
        "  - id: loud\n"
        "    kind: dialogue\n"
        "    output_format: opus_48000_64\n"
        "    loudness: {integrated_lufs: -9, true_peak_db: -1}\n"
        f"    inputs: [{{voice: {VOICES[1]}, text: A line pushed far too loud for its peaks.}}]\n"
        "  - id: plain\n"
        "    kind: dialogue\n"
        f"    inputs: [{{voice: {VOICES[2]}, text: A line left as the API made it.}}]\n"
    )
    [manifest] = load_manifests([path])
    upgrade(sqlite_url)
    rt = runtime(sqlite_url, emulator.url, tmp_path)
    batch_id = submit(sqlite_url, manifest)
    run_queued(sqlite_url, rt)
    result = report(sqlite_url, batch_id)
    assert result["status"] == "succeeded"
    jobs = {job["id"]: outputs(job) for job in result["jobs"]}

    quiet = jobs["quiet"]["audio.mp3"]
    assert abs(outside_meter.integrated_lufs(quiet) - -24.0) <= 1.0
    loud = jobs["loud"]["audio.opus"]
    assert outside_meter.true_peak_db(loud) <= -1.0
    assert outside_meter.integrated_lufs(loud) < -10.0  # short of -9: the gain was reduced
    measured = json.loads(jobs["loud"]["loudness.json"].read_text())
    assert measured["gain_reduced_db"] > 1.0
    [note] = measured["notes"]
    assert "which would clip" in note and "gain reduced" in note
    with session_scope(sqlite_url) as session:
        messages = [a.error_message for a in session.query(Attempt) if a.error_message]
    assert messages == [note]  # the attempt says so too

    by_id = {job["id"]: job for job in result["jobs"]}
    assert by_id["loud"]["loudness"] == measured and by_id["plain"]["loudness"] is None
    shown, page = dashboard_job(sqlite_url, tmp_path, "loud")
    assert shown["loudness"] == measured
    assert "<h2>Loudness</h2>" in page and "custom: -9.0 LUFS integrated" in page
    before, after = measured["before"], measured["after"]
    assert (
        f"<td>{before['integrated_lufs']:.1f} LUFS</td><td>{after['integrated_lufs']:.1f} LUFS</td>"
        in measured_row(page, "integrated_lufs")
    )
    assert f"<td>{after['true_peak_db']:.1f} dBTP</td>" in measured_row(page, "true_peak_db")
    assert "rms_db" not in page  # ACX's figures are for audiobook
    assert f"{measured['gain_reduced_db']:.1f} dB less than asked not to clip" in page
    assert html.escape(note) in page
    shown, page = dashboard_job(sqlite_url, tmp_path, "plain")
    assert shown["loudness"] is None and "Loudness" not in page

    # the same jobs again reuse those outputs, and what was measured of them with the outputs
    again = submit(sqlite_url, manifest)
    run_queued(sqlite_url, rt)
    reused = {job["id"]: job for job in report(sqlite_url, again)["jobs"]}
    assert all(job["cached"] for job in reused.values())
    assert reused["loud"]["loudness"] == measured and reused["plain"]["loudness"] is None
