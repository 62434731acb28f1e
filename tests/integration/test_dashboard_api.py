"""The dashboard's JSON API, downloads, actions and metrics, against real PostgreSQL."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import boto3
import pytest
from sqlalchemy import select

from audiobatch.dashboard.usage import UsageCache
from audiobatch.db.models import Artifact, Attempt, Batch, BatchStatus, Job, JobStatus, utcnow
from audiobatch.db.session import session_scope
from audiobatch.storage.local import LocalStorage
from tests.dashboard_seed import HOST, HOSTILE, live_worker
from tests.dashboard_stack import API_KEY, SCRIPT, TOKEN, Stack, make_stack
from tests.services import free_port


@pytest.fixture
def stack(postgres_url: str, tmp_path: Path) -> Iterator[Stack]:
    made = make_stack(postgres_url, tmp_path)
    with made.client:
        yield made


def test_batches_are_listed_newest_first_with_their_counts_and_pages(stack: Stack) -> None:
    page = stack.client.get("/api/batches").json()
    assert [b["name"] for b in page["items"]] == ["nightly", "broken", "demo"]
    assert page["total"] == 3
    broken = page["items"][1]
    assert broken["counts"]["failed"] == 2 and broken["counts"]["succeeded"] == 1
    second = stack.client.get("/api/batches", params={"per_page": 2, "page": 2}).json()
    assert [b["name"] for b in second["items"]] == ["demo"]


def test_batches_filter_by_status_name_schedule_and_date(stack: Stack) -> None:
    def names(**params: object) -> list[str]:
        return [b["name"] for b in stack.client.get("/api/batches", params=params).json()["items"]]

    assert names(status=["partial", "running"]) == ["nightly", "broken"]
    assert names(name="BRO") == ["broken"]
    assert names(schedule="nightly") == ["nightly"]
    assert names(since="2000-01-01", until="2000-01-02") == []
    assert len(names(since="2000-01-01T00:00:00Z")) == 3


def test_a_bad_filter_is_422_with_a_message(stack: Stack) -> None:
    answer = stack.client.get("/api/batches", params={"status": "finished"})
    assert answer.status_code == 422
    assert "status" in answer.json()["detail"] and "'running'" in answer.json()["detail"]
    answer = stack.client.get("/api/jobs", params={"kind": "podcast", "per_page": 0})
    assert answer.status_code == 422
    assert "unknown job kind(s) podcast" in answer.json()["detail"]
    assert "per_page" in answer.json()["detail"]


def test_unknown_ids_are_404_with_a_message(stack: Stack) -> None:
    for path, words in [
        ("/api/batches/nope", "no batch with id or name 'nope'"),
        ("/api/batches/nope/jobs", "no batch"),
        ("/api/jobs/999999", "no job with id 999999"),
        ("/batches/nope", "no batch"),
    ]:
        answer = stack.client.get(path)
        assert answer.status_code == 404, path
        assert words in answer.text, path
    assert stack.client.get("/api/jobs/abc").status_code == 422
    page = stack.client.get("/jobs/abc")  # its one problem is said once
    assert page.status_code == 422
    assert page.text.count("job_id: Input should be a valid integer") == 1


def test_batch_detail_has_counts_progress_eta_characters_and_outputs(stack: Stack) -> None:
    done = stack.client.get(f"/api/batches/{stack.seeded.done}").json()
    assert done["progress"] == 1.0 and done["eta_s"] is None
    assert done["characters"] == 240
    assert done["outputs"]["files"] == 2 and done["outputs"]["bytes"] > 0
    nightly = stack.client.get("/api/batches/nightly").json()  # by name too
    assert nightly["total"] == 4 and nightly["ended"] == 0 and nightly["progress"] == 0
    assert nightly["schedule"] == "nightly"


def test_a_running_batch_has_an_eta_from_its_recent_rate_while_a_worker_is_live(
    stack: Stack,
) -> None:
    with session_scope(stack.url) as session:
        job = session.scalars(select(Job).where(Job.key == "n0")).one()
        job.status, job.finished_at = JobStatus.SUCCEEDED, utcnow()
    nightly = stack.client.get(f"/api/batches/{stack.seeded.nightly}").json()
    assert nightly["jobs_per_s"] > 0
    assert nightly["no_live_worker"] and nightly["eta_s"] is None
    assert "no live worker" in stack.client.get(f"/batches/{stack.seeded.nightly}").text

    with live_worker(stack.url):
        nightly = stack.client.get(f"/api/batches/{stack.seeded.nightly}").json()
    assert not nightly["no_live_worker"]
    assert nightly["eta_s"] == pytest.approx(3 / nightly["jobs_per_s"])


def test_jobs_filter_by_status_kind_and_error_class(stack: Stack) -> None:
    def keys(path: str, **params: object) -> list[str]:
        return [j["id"] for j in stack.client.get(path, params=params).json()["items"]]

    broken = f"/api/batches/{stack.seeded.broken}/jobs"
    assert keys(broken) == ["ok", "bad", "late"]
    assert keys(broken, status="failed") == ["bad", "late"]
    assert keys(broken, status="failed", kind="music") == ["late"]
    assert keys(broken, error="invalid_request") == ["bad"]
    assert keys("/api/jobs", status="running") == ["busy"]
    assert keys("/api/jobs", batch="demo") == ["intro", "theme"]
    assert stack.client.get("/api/jobs", params={"per_page": 2}).json()["total"] == 9


def test_job_detail_has_the_request_every_attempt_and_the_outputs(stack: Stack) -> None:
    bad = stack.client.get(f"/api/jobs/{stack.seeded.jobs[f'{stack.seeded.broken}/bad']}").json()
    assert bad["request"]["inputs"][0]["voice"] == HOST
    assert [(a["http_status"], a["error_code"]) for a in bad["attempt_log"]] == [
        (503, "system_busy"),
        (429, "too_many_concurrent_requests"),
        (422, "invalid_request"),
    ]
    assert bad["attempt_log"][2]["request_id"] == "req-bad-3"
    assert bad["error_code"] == "invalid_request" and bad["outputs"] == []
    intro = stack.client.get(f"/api/jobs/{stack.seeded.jobs[f'{stack.seeded.done}/intro']}").json()
    [output] = intro["outputs"]
    assert output["url"] == f"/batches/{stack.seeded.done}/outputs/intro/audio.mp3"


def test_an_output_is_streamed_from_local_storage(stack: Stack) -> None:
    answer = stack.client.get(f"/batches/{stack.seeded.done}/outputs/intro/audio.mp3")
    assert answer.status_code == 200
    assert answer.headers["content-type"] == "audio/mpeg"
    assert answer.content[:3] == b"ID3" or answer.content[:2] == b"\xff\xfb"


def test_a_part_s_output_downloads_under_its_key_with_a_slash(stack: Stack, tmp_path: Path) -> None:
    done = stack.seeded.done
    stored = LocalStorage(tmp_path / "renders").write(
        f"demo/{done}/ep/part-001/audio.pcm", [b"\0\1" * 50], "audio/L16"
    )
    with session_scope(stack.url) as session:
        part = Job(
            batch_id=done, key="ep/part-001", kind="dialogue", queue="dialogue", spec={},
            status=JobStatus.SUCCEEDED, attempts=1, created_at=utcnow(),
        )  # fmt: skip
        session.add(part)
        session.flush()
        session.add(
            Artifact(
                job_id=part.id, batch_id=part.batch_id, name="audio.pcm", key=stored.key,
                uri=stored.uri, bytes=stored.bytes, sha256=stored.sha256,
                content_type="audio/L16", created_at=utcnow(),
            )
        )  # fmt: skip
    [row] = stack.client.get("/api/jobs", params={"batch": "demo", "status": "succeeded"}).json()[
        "items"
    ][-1:]
    assert row["id"] == "ep/part-001"
    answer = stack.client.get(row["outputs"][0]["url"])
    assert answer.status_code == 200 and answer.content == b"\0\1" * 50


def test_a_download_path_cannot_leave_its_batch_s_outputs(stack: Stack, tmp_path: Path) -> None:
    (tmp_path / "renders" / "secret.txt").write_text("not an output")
    done, broken = stack.seeded.done, stack.seeded.broken
    for path in [
        f"/batches/{done}/outputs/..%2F..%2Fsecret.txt/x",
        f"/batches/{done}/outputs/intro/..%2F..%2F..%2Fsecret.txt",
        f"/batches/{done}/outputs/%2E%2E/secret.txt",
        f"/batches/{broken}/outputs/intro/audio.mp3",  # another batch's job
        f"/batches/{done}/outputs/intro/../../../secret.txt",
    ]:
        answer = stack.client.get(path)
        assert answer.status_code == 404, path
        assert b"not an output" not in answer.content
    # an artifact row pointing outside the batch's folder is not served either
    with session_scope(stack.url) as session:
        job = session.get_one(Job, stack.seeded.jobs[f"{done}/intro"])
        job.artifacts[0].key = "secret.txt"
    answer = stack.client.get(f"/batches/{done}/outputs/intro/audio.mp3")
    assert answer.status_code == 404 and b"not an output" not in answer.content


def test_an_output_on_s3_downloads_through_a_presigned_url(
    postgres_url: str,
    tmp_path: Path,
    s3_server: str,
    s3_bucket: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("AWS_ENDPOINT_URL", s3_server)
    made = make_stack(postgres_url, tmp_path, storage_url=f"s3://{s3_bucket}")
    local = tmp_path / "renders" / "demo" / made.seeded.done / "intro" / "audio.mp3"
    key = f"demo/{made.seeded.done}/intro/audio.mp3"
    boto3.client("s3", endpoint_url=s3_server).put_object(
        Bucket=s3_bucket, Key=key, Body=local.read_bytes()
    )
    answer = made.client.get(
        f"/batches/{made.seeded.done}/outputs/intro/audio.mp3", follow_redirects=False
    )
    assert answer.status_code == 307, answer.text
    location = answer.headers["location"]
    assert location.startswith(s3_server) and "Signature" in location
    import httpx

    assert httpx.get(location).content == local.read_bytes()


@pytest.mark.parametrize("downloads", ["stream", "public endpoint"])
def test_an_output_on_a_store_browsers_cannot_reach_is_streamed_or_signed_for_its_public_address(
    postgres_url: str,
    tmp_path: Path,
    s3_server: str,
    s3_bucket: str,
    monkeypatch: pytest.MonkeyPatch,
    downloads: str,
) -> None:
    monkeypatch.setenv("AWS_ENDPOINT_URL", s3_server)  # the processes' address, inside a network
    settings: dict[str, object] = (
        {"dashboard_downloads": "stream"}
        if downloads == "stream"
        else {"storage_public_endpoint": "https://files.example.com"}
    )
    made = make_stack(postgres_url, tmp_path, storage_url=f"s3://{s3_bucket}", **settings)
    local = tmp_path / "renders" / "demo" / made.seeded.done / "intro" / "audio.mp3"
    key = f"demo/{made.seeded.done}/intro/audio.mp3"
    boto3.client("s3", endpoint_url=s3_server).put_object(
        Bucket=s3_bucket, Key=key, Body=local.read_bytes()
    )
    answer = made.client.get(
        f"/batches/{made.seeded.done}/outputs/intro/audio.mp3", follow_redirects=False
    )
    if downloads == "stream":
        assert answer.status_code == 200, answer.text
        assert answer.content == local.read_bytes()
    else:
        assert answer.status_code == 307, answer.text
        location = answer.headers["location"]
        assert location.startswith(f"https://files.example.com/{s3_bucket}/{key}?")
        assert "Signature" in location


def test_hostile_text_shows_as_text_and_the_api_key_nowhere(stack: Stack) -> None:
    seeded = stack.seeded
    pages = [
        "/",
        f"/batches/{seeded.done}",
        f"/jobs/{seeded.jobs[f'{seeded.done}/theme']}",
        f"/jobs/{seeded.jobs[f'{seeded.broken}/bad']}",
        "/schedules",
        "/limiter",
        "/login",
        "/docs",
        "/openapi.json",
        "/metrics",
        "/api/batches",
        f"/api/batches/{seeded.done}",
        "/api/jobs",
        f"/api/jobs/{seeded.jobs[f'{seeded.done}/theme']}",
        "/api/schedules",
        "/api/limiter",
        "/api/activity",
        "/api/whoami",
    ]
    for path in pages:
        answer = stack.client.get(path)
        assert answer.status_code == 200, path
        assert API_KEY not in answer.text, path
        if answer.headers["content-type"].startswith("text/html"):
            assert HOSTILE not in answer.text, path
    theme = stack.client.get(f"/jobs/{seeded.jobs[f'{seeded.done}/theme']}").text
    assert "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt;" in theme
    assert "&lt;script&gt;" in stack.client.get(f"/batches/{seeded.done}").text


def test_retry_failed_queues_every_failed_job_of_the_batch(stack: Stack) -> None:
    answer = stack.client.post(f"/api/batches/{stack.seeded.broken}/retry", headers=SCRIPT)
    assert answer.status_code == 200
    assert answer.json()["jobs"] == 2 and "queued again" in answer.json()["message"]
    assert stack.status_of(stack.seeded.broken, "bad") is JobStatus.QUEUED
    assert stack.status_of(stack.seeded.broken, "late") is JobStatus.QUEUED


def test_a_retry_while_the_broker_is_out_of_reach_is_503_and_the_jobs_wait_queued(
    postgres_url: str, tmp_path: Path
) -> None:
    stack = make_stack(postgres_url, tmp_path, broker_url=f"redis://127.0.0.1:{free_port()}/0")
    with stack.client:
        answer = stack.client.post(f"/api/batches/{stack.seeded.broken}/retry", headers=SCRIPT)
    assert answer.status_code == 503
    assert "cannot be reached" in answer.json()["detail"]
    assert stack.status_of(stack.seeded.broken, "bad") is JobStatus.QUEUED


def test_one_failed_job_is_retried_alone(stack: Stack) -> None:
    job_id = stack.seeded.jobs[f"{stack.seeded.broken}/late"]
    answer = stack.client.post(f"/api/jobs/{job_id}/retry", headers=SCRIPT)
    assert answer.status_code == 200, answer.text
    assert stack.status_of(stack.seeded.broken, "late") is JobStatus.QUEUED
    assert stack.status_of(stack.seeded.broken, "bad") is JobStatus.FAILED
    ok = stack.seeded.jobs[f"{stack.seeded.broken}/ok"]
    answer = stack.client.post(f"/api/jobs/{ok}/retry", headers=SCRIPT)
    assert answer.status_code == 404 and "has no failed job 'ok'" in answer.json()["detail"]


def test_cancel_stops_what_has_not_started_and_resume_goes_on(stack: Stack) -> None:
    nightly = stack.seeded.nightly
    answer = stack.client.post(f"/api/batches/{nightly}/cancel", headers=SCRIPT)
    assert answer.json()["jobs"] == 3
    assert "ends when the jobs running now finish" in answer.json()["message"]
    assert stack.status_of(nightly, "n0") is JobStatus.CANCELLED
    assert stack.status_of(nightly, "busy") is JobStatus.RUNNING
    with session_scope(stack.url) as session:
        batch = session.get_one(Batch, stack.seeded.done)
        batch.status = BatchStatus.PAUSED
        session.get_one(Job, stack.seeded.jobs[f"{batch.id}/intro"]).status = JobStatus.PAUSED
    answer = stack.client.post(f"/api/batches/{stack.seeded.done}/resume", headers=SCRIPT)
    assert answer.json()["jobs"] == 1
    assert stack.status_of(stack.seeded.done, "intro") is JobStatus.QUEUED


def test_run_a_schedule_now_starts_its_batch(stack: Stack) -> None:
    answer = stack.client.post("/api/schedules/nightly/run", headers=SCRIPT)
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert body["batch_id"] and "fired" in body["message"]
    [view] = stack.client.get("/api/schedules").json()
    assert view["last_run"]["outcome"] == "fired" and view["next_run"] is not None
    missing = stack.client.post("/api/schedules/nope/run", headers=SCRIPT)
    assert missing.status_code == 404 and "no schedule named 'nope'" in missing.json()["detail"]


def test_a_manifest_submitted_by_upload_becomes_a_batch(stack: Stack) -> None:
    manifest = (
        "batch: uploaded\njobs:\n  - id: one\n    kind: dialogue\n"
        f"    inputs: [{{voice: {HOST}, text: One.}}]\n"
    )
    answer = stack.client.post(
        "/api/batches", headers=SCRIPT, files={"manifest": ("up.yaml", manifest.encode())}
    )
    assert answer.status_code == 201, answer.text
    batch_id = answer.json()["batch_id"]
    assert stack.client.get(f"/api/batches/{batch_id}").json()["counts"]["queued"] == 1
    bad = stack.client.post(
        "/api/batches", headers=SCRIPT, files={"manifest": ("bad.yaml", b"batch: x\njobs: 3\n")}
    )
    assert bad.status_code == 422
    assert bad.json()["problems"] and "bad.yaml" in bad.json()["problems"][0]


def test_an_uploaded_episode_lists_with_its_parts_and_each_part_with_its_episode(
    postgres_url: str, tmp_path: Path
) -> None:
    made = make_stack(postgres_url, tmp_path, part_chars=500)
    turns = "".join(
        f"      - {{voice: {HOST}, text: '{'Sentence number {n} of the long read. ' * 8}'}}\n"
        for n in range(4)
    )
    manifest = f"batch: long\njobs:\n  - id: ep1\n    kind: dialogue\n    inputs:\n{turns}"
    with made.client as client:
        answer = client.post(
            "/api/batches", headers=SCRIPT, files={"manifest": ("long.yaml", manifest.encode())}
        )
        assert answer.status_code == 201, answer.text
        jobs = client.get(f"/api/batches/{answer.json()['batch_id']}/jobs").json()["items"]
        episode = next(j for j in jobs if j["id"] == "ep1")
        parts = [j for j in jobs if j["part_of"] == "ep1"]
        assert len(parts) >= 2
        assert episode["parts"] == {"done": 0, "total": len(parts)}
        page = client.get(f"/jobs/{parts[0]['job_id']}").text
        assert "Part of" in page and "ep1" in page


def test_an_action_without_proof_of_its_origin_is_refused(stack: Stack) -> None:
    path = f"/api/batches/{stack.seeded.broken}/retry"
    bare = stack.client.post(path)
    assert bare.status_code == 403 and "CSRF" in bare.json()["detail"]
    elsewhere = stack.client.post(path, headers={**SCRIPT, "Origin": "https://evil.example"})
    assert elsewhere.status_code == 403 and "evil.example" in elsewhere.json()["detail"]
    cross = stack.client.post(path, headers={**SCRIPT, "Sec-Fetch-Site": "cross-site"})
    assert cross.status_code == 403
    assert stack.status_of(stack.seeded.broken, "bad") is JobStatus.FAILED
    assert stack.client.get(path).status_code == 405  # POST only


def test_a_page_form_carries_its_csrf_token_and_comes_back_with_a_notice(stack: Stack) -> None:
    page = stack.client.get(f"/batches/{stack.seeded.broken}")
    token = stack.client.cookies["audiobatch_csrf"]
    assert f'value="{token}"' in page.text
    answer = stack.client.post(
        f"/api/batches/{stack.seeded.broken}/retry",
        params={"next": f"/batches/{stack.seeded.broken}"},
        data={"csrf_token": token},
        follow_redirects=False,
    )
    assert answer.status_code == 303
    assert answer.headers["location"].startswith(f"/batches/{stack.seeded.broken}?notice=2+failed")
    wrong = stack.client.post(
        f"/api/batches/{stack.seeded.done}/cancel", data={"csrf_token": "forged"}
    )
    assert wrong.status_code == 403
    for elsewhere in ("//evil.example/", "/\\evil.example/", "https://evil.example/"):
        sent_off = stack.client.post(
            f"/api/batches/{stack.seeded.broken}/retry",
            params={"next": elsewhere},
            data={"csrf_token": token},
            follow_redirects=False,
        )
        assert sent_off.headers["location"].startswith("/?notice="), elsewhere


def test_with_a_token_reading_stays_open_and_actions_need_it(
    postgres_url: str, tmp_path: Path
) -> None:
    made = make_stack(postgres_url, tmp_path, dashboard_token=TOKEN)
    client, broken = made.client, made.seeded.broken
    assert client.get("/api/whoami").json() == {"role": "viewer", "token_required": True}
    assert client.get("/api/batches").status_code == 200
    assert client.get(f"/batches/{broken}").status_code == 200
    assert "Retry" not in client.get(f"/batches/{broken}").text
    refused = client.post(f"/api/batches/{broken}/retry", headers=SCRIPT)
    assert refused.status_code == 401 and "operator token" in refused.json()["detail"]
    wrong = {"Authorization": "Bearer nope"}
    assert client.post(f"/api/batches/{broken}/retry", headers=wrong).status_code == 401
    bearer = {"Authorization": f"Bearer {TOKEN}"}
    assert client.get("/api/whoami", headers=bearer).json()["role"] == "operator"
    assert client.post(f"/api/batches/{broken}/retry", headers=bearer).status_code == 200


def test_logging_in_makes_this_browser_an_operator_without_storing_the_token(
    postgres_url: str, tmp_path: Path
) -> None:
    made = make_stack(postgres_url, tmp_path, dashboard_token=TOKEN)
    client = made.client
    client.get("/login")
    csrf = client.cookies["audiobatch_csrf"]
    failed = client.post("/login", data={"token": "nope", "csrf_token": csrf})
    assert failed.status_code == 401
    answer = client.post(
        "/login", data={"token": TOKEN, "csrf_token": csrf}, follow_redirects=False
    )
    assert answer.status_code == 303
    assert TOKEN not in answer.headers["set-cookie"]
    assert "HttpOnly" in answer.headers["set-cookie"]
    assert client.get("/api/whoami").json()["role"] == "operator"
    assert "Retry 2 failed" in client.get(f"/batches/{made.seeded.broken}").text


def test_metrics_are_derived_from_the_attempts_in_sql(stack: Stack) -> None:
    text = stack.client.get("/metrics").text
    lines = dict(
        line.rsplit(" ", 1) for line in text.splitlines() if line and not line.startswith("#")
    )
    assert float(lines['audiobatch_jobs{status="failed"}']) == 2
    assert float(lines['audiobatch_jobs{status="queued"}']) == 3
    assert float(lines["audiobatch_api_throttled_total"]) == 1
    assert float(lines["audiobatch_retries_total"]) == 3
    assert float(lines["audiobatch_characters_total"]) == 360
    assert float(lines['audiobatch_api_requests_total{outcome="succeeded"}']) == 3
    assert float(lines["audiobatch_api_latency_seconds_count"]) == 7
    assert float(lines['audiobatch_api_latency_seconds_bucket{le="0.1"}']) == 1
    assert float(lines['audiobatch_api_latency_seconds_bucket{le="+Inf"}']) == 7


def test_activity_counts_jobs_and_failed_attempts_over_time(stack: Stack) -> None:
    buckets = stack.client.get(f"/api/batches/{stack.seeded.broken}/activity").json()
    assert sum(b["failed"] for b in buckets) == 2
    assert sum(b["succeeded"] for b in buckets) == 1
    assert sum(b["failed_attempts"] for b in buckets) == 3
    recent = stack.client.get("/api/activity", params={"hours": 1, "buckets": 12}).json()
    assert len(recent) == 12
    assert sum(b["succeeded"] for b in recent) == 3
    assert sum(b["failed_attempts"] for b in recent) == 4


def test_the_limiter_and_the_queues_are_shown(stack: Stack) -> None:
    state = stack.client.get("/api/limiter").json()
    assert [p["pool"] for p in state["pools"]] == ["general", "music"]
    assert state["key_hash"] and API_KEY not in str(state)
    assert set(state["queues"]) >= {"dialogue", "music"}


def test_usage_is_shown_as_last_summed_and_summed_again_once_old(stack: Stack) -> None:
    done, cache = stack.seeded.done, UsageCache(stack.url, max_age_s=0.0)

    def characters() -> int:
        with session_scope(stack.url) as session:
            return cache.of(session, done).characters

    assert characters() == 240
    with session_scope(stack.url) as session:
        job_id = stack.seeded.jobs[f"{done}/intro"]
        at = utcnow()
        session.add(
            Attempt(
                job_id=job_id, batch_id=done, number=2, worker="t", started_at=at,
                finished_at=at, outcome="succeeded", http_status=200, latency_ms=1,
                character_cost=10,
            )
        )  # fmt: skip
    assert characters() == 240  # the last sum, while a new one is made
    deadline = time.monotonic() + 10
    while characters() != 250:
        assert time.monotonic() < deadline, "the usage was not summed again"
        time.sleep(0.05)


def test_a_quota_paused_batch_shows_when_it_continues(stack: Stack) -> None:
    [first, *_] = stack.client.get("/api/batches").json()["items"]
    at = utcnow().replace(microsecond=0)
    with session_scope(stack.url) as session:
        batch = session.get_one(Batch, first["id"])
        batch.status, batch.resume_at = BatchStatus.PAUSED, at
    assert stack.client.get(f"/api/batches/{first['id']}").json()["continues_at"] == at.isoformat()
    assert 'data-field="continues_at"' in stack.client.get(f"/batches/{first['id']}").text
