"""The dashboard at a glance, against real PostgreSQL: raw PCM and G.711 outputs served as WAV
for the pages to play (the download stays the raw file), an episode's parts folded under it,
times in ``AUDIOBATCH_TIME_ZONE``, an invalid upload answered as a page of its problems."""

from __future__ import annotations

import io
import re
import struct
import wave
from collections.abc import Iterator
from pathlib import Path

import pytest

from audiobatch.storage.local import LocalStorage
from tests.dashboard_stack import SCRIPT, Stack, make_stack
from tests.episode_seed import PARTS, SeededSeason, seed_season

INVALID = (
    "batch: bad\njobs:\n  - id: one\n    kind: dialogue\n    inputs: []\n"
    "  - id: two\n    kind: music\n    music_length_ms: -5\n"
)


@pytest.fixture
def stack(postgres_url: str, tmp_path: Path) -> Iterator[Stack]:
    made = make_stack(postgres_url, tmp_path, time_zone="Europe/Berlin")
    with made.client:
        yield made


@pytest.fixture
def season(stack: Stack, tmp_path: Path) -> SeededSeason:
    return seed_season(stack.url, LocalStorage(tmp_path / "renders"))


def output(season: SeededSeason, key: str, name: str) -> str:
    return f"/batches/{season.batch}/outputs/{key}/{name}"


def test_raw_pcm_is_served_as_a_wav_of_its_rate_and_length(
    stack: Stack, season: SeededSeason
) -> None:
    raw = season.audio["ep01"]
    answer = stack.client.get(output(season, "ep01", "audio.pcm"), params={"as": "wav"})
    assert answer.status_code == 200
    assert answer.headers["content-type"] == "audio/wav"
    assert int(answer.headers["content-length"]) == len(answer.content)
    with wave.open(io.BytesIO(answer.content)) as played:
        assert played.getframerate() == 16000
        assert (played.getnchannels(), played.getsampwidth()) == (1, 2)
        assert played.getnframes() == len(raw) // 2
        assert played.readframes(played.getnframes()) == raw
    download = stack.client.get(output(season, "ep01", "audio.pcm"))
    assert download.content == raw  # the link still gives the raw file


def test_raw_audio_gone_or_changed_in_storage_answers_404_before_any_wav_is_sent(
    stack: Stack, season: SeededSeason, tmp_path: Path
) -> None:
    stored = next((tmp_path / "renders").rglob("ep01/audio.pcm"))
    stored.write_bytes(stored.read_bytes()[:-2])  # a length the header would not announce
    changed = stack.client.get(output(season, "ep01", "audio.pcm"), params={"as": "wav"})
    assert changed.status_code == 404 and "gone from storage" in changed.text
    stored.unlink()
    gone = stack.client.get(output(season, "ep01", "audio.pcm"), params={"as": "wav"})
    assert gone.status_code == 404 and "gone from storage" in gone.text


def test_a_part_of_an_episode_is_served_as_wav_too(stack: Stack, season: SeededSeason) -> None:
    answer = stack.client.get(output(season, "ep01/part-002", "audio.pcm"), params={"as": "wav"})
    with wave.open(io.BytesIO(answer.content)) as played:
        assert played.getnframes() * 2 == len(season.audio["ep01/part-002"])


def test_mu_law_is_served_as_a_wav_with_the_g711_format_tag(
    stack: Stack, season: SeededSeason
) -> None:
    raw = season.audio["call"]
    answer = stack.client.get(output(season, "call", "audio.ulaw"), params={"as": "wav"})
    body = answer.content
    assert body[:4] == b"RIFF" and body[8:12] == b"WAVE"
    assert struct.unpack("<I", body[4:8])[0] == len(body) - 8
    chunks = riff_chunks(body[12:])
    tag, channels, rate, byte_rate, align, bits = struct.unpack("<HHIIHH", chunks[b"fmt "][:16])
    assert (tag, channels, rate, byte_rate, align, bits) == (7, 1, 8000, 8000, 1, 8)
    assert struct.unpack("<I", chunks[b"fact"])[0] == len(raw)
    assert chunks[b"data"] == raw
    assert len(raw) / rate > 0.5  # seconds of audio, as the page's player shows


def riff_chunks(body: bytes) -> dict[bytes, bytes]:
    found = {}
    while body:
        tag, size = body[:4], struct.unpack("<I", body[4:8])[0]
        found[tag] = body[8 : 8 + size]
        body = body[8 + size + size % 2 :]
    return found


def test_only_raw_audio_is_served_as_wav(stack: Stack) -> None:
    mp3 = f"/batches/{stack.seeded.done}/outputs/intro/audio.mp3"
    answer = stack.client.get(mp3, params={"as": "wav"})
    assert answer.status_code == 404
    assert "not raw PCM or G.711" in answer.text
    assert stack.client.get(mp3, params={"as": "flac"}).status_code == 422


def test_the_job_page_plays_raw_audio_as_wav_and_links_the_raw_file(
    stack: Stack, season: SeededSeason
) -> None:
    page = stack.client.get(f"/jobs/{season.jobs['ep01']}").text
    url = output(season, "ep01", "audio.pcm")
    assert f'<audio controls preload="metadata" src="{url}?as=wav">' in page
    assert f'<a href="{url}" download="audio.pcm">' in page
    seconds = len(season.audio["ep01"]) / 32000
    assert f'<span class="length">0:{round(seconds):02d}</span>' in page
    assert f'<span class="size" title="{len(season.audio["ep01"])} bytes">' in page


def test_an_episode_s_parts_are_folded_under_it_on_the_batch_page(
    stack: Stack, season: SeededSeason
) -> None:
    page = stack.client.get(f"/batches/{season.batch}").text
    rows = re.findall(r'<tr data-job="([^"]+)">', page)
    assert rows == ["ep01", *[f"ep01/part-{n:03d}" for n in range(1, PARTS + 1)], "call"]
    folded = page[page.index('data-parts-of="ep01"') : page.index('data-job="call"')]
    assert "<details>" in folded and f"{PARTS} parts of ep01 ({PARTS} rendered)" in folded
    assert "page 1 of 1 · 2 in all" in page  # episodes and jobs, not parts
    listed = stack.client.get(f"/api/batches/{season.batch}/jobs").json()
    assert listed["total"] == PARTS + 2  # the JSON API still lists every part
    # filtered, a part that matches is listed itself (an episode's own status may not match)
    matching = stack.client.get(f"/batches/{season.batch}", params={"status": "succeeded"}).text
    assert re.findall(r'<tr data-job="([^"]+)">', matching) == rows
    assert 'data-parts-of="ep01"' not in matching and f"{PARTS + 2} in all" in matching


def test_pages_show_times_in_the_zone_as_time_elements(stack: Stack, season: SeededSeason) -> None:
    page = stack.client.get("/").text
    # the wall time and how long ago, each kept on one line
    stamps = re.findall(
        r'<time datetime="([^"]+)" title="\1"><span>([^<]+)</span> <span>([^<]+)</span></time>',
        page,
    )
    assert len(stamps) == 4
    for exact, wall, ago in stamps:
        assert exact.endswith(("+01:00", "+02:00"))  # Berlin's offsets
        assert re.fullmatch(r"\d{4}-\d\d-\d\d \d\d:\d\d CES?T", wall), wall
        assert re.fullmatch(r"\(\d+ min ago\)", ago), ago


def test_an_invalid_upload_from_the_page_answers_a_page_of_its_problems(stack: Stack) -> None:
    files = {"manifest": ("bad.yaml", INVALID.encode(), "application/x-yaml")}
    page = stack.client.post("/api/batches?next=/", files=files, headers=SCRIPT)
    assert page.status_code == 422
    assert page.headers["content-type"].startswith("text/html")
    rows = re.findall(
        r"<tr><td><code>([^<]+)</code></td><td>([^<]+)</td><td>(.*?)</td><td>([^<]+)</td></tr>",
        page.text,
    )
    assert [row[:3] for row in rows] == [
        ("bad.yaml", "5", "<code>jobs[one].inputs</code>"),
        ("bad.yaml", "8", "<code>jobs[two].music_length_ms</code>"),
    ]
    api = stack.client.post("/api/batches", files=files, headers=SCRIPT)
    assert api.status_code == 422
    assert api.json()["problems"] == [
        f"{file}:{line}: {re.sub('<[^>]+>', '', field)}: {message}"
        for file, line, field, message in rows
    ]
