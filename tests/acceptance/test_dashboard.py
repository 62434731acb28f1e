"""`audiobatch dashboard` on the demo's state, as a user starts it after `audiobatch run`."""

from __future__ import annotations

import shutil
import time
from pathlib import Path

import httpx

from tests.acceptance.cli import audiobatch, clean_environment, start, stop
from tests.services import free_port

REPO = Path(__file__).resolve().parents[2]


def test_the_dashboard_shows_the_demo_batch_its_jobs_and_playable_outputs(tmp_path: Path) -> None:
    shutil.copy(REPO / "manifests" / "demo.yaml", tmp_path / "demo.yaml")
    env = clean_environment()
    ran = audiobatch("run", "demo.yaml", cwd=tmp_path, env=env)
    assert ran.returncode == 0, ran.stdout + ran.stderr
    port = free_port()
    server = start("dashboard", "--port", str(port), cwd=tmp_path, env=env, log=tmp_path / "d.log")
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                batches = httpx.get(f"{base}/api/batches", params={"name": "demo"}).json()
                break
            except httpx.TransportError:
                assert server.poll() is None, (tmp_path / "d.log").read_text()
                assert time.monotonic() < deadline, "the dashboard did not start"
                time.sleep(0.1)
        [demo] = batches["items"]
        assert demo["status"] == "succeeded" and demo["counts"]["succeeded"] == 4
        batch_page = httpx.get(f"{base}/batches/{demo['id']}").text
        assert all(job in batch_page for job in ("cold-open", "welcome", "weather", "sign-off"))
        jobs = httpx.get(f"{base}/api/batches/{demo['id']}/jobs").json()["items"]
        welcome = next(job for job in jobs if job["id"] == "welcome")
        job_page = httpx.get(f"{base}/jobs/{welcome['job_id']}").text
        [audio] = [o for o in welcome["outputs"] if o["name"] == "audio.mp3"]
        assert f'<audio controls preload="metadata" src="{audio["url"]}">' in job_page
        served = httpx.get(f"{base}{audio['url']}")
        assert served.headers["content-type"] == "audio/mpeg"
        stored = Path(audio["uri"].removeprefix("file://")).read_bytes()
        assert served.content == stored
    finally:
        stop(server)


def test_the_dashboard_refuses_to_listen_beyond_loopback_without_a_token(tmp_path: Path) -> None:
    refused = audiobatch("dashboard", "--host", "0.0.0.0", cwd=tmp_path, env=clean_environment())
    assert refused.returncode == 2
    assert "AUDIOBATCH_DASHBOARD_TOKEN" in refused.stderr
    assert "--insecure-no-token" in refused.stderr
    assert "Traceback" not in refused.stderr
