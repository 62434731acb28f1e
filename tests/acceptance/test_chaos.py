"""Workers killed with SIGKILL every second and a half (while another one is consuming),
PostgreSQL restarted, Redis restarted with its data gone, and the object store unreachable for
10 s, while a batch of mixed kinds renders against an emulator with 10% faults: every job ends with exactly one verified output, and no
generation is paid twice except for jobs whose worker died with them in flight."""

from __future__ import annotations

from contextlib import contextmanager
from pathlib import Path

from tests import services
from tests.acceptance.chaos import (
    FAULTS,
    Chaos,
    Disruption,
    PausableProxy,
    output_problems,
    restart,
    run_with_kills,
    write_mixed_manifest,
)
from tests.acceptance.cli import audiobatch, production_environment, running_emulator, start, stop
from tests.acceptance.fleet import KEY


def test_every_job_ends_with_one_verified_output_whatever_dies(
    tmp_path: Path, s3_server: str, s3_bucket: str
) -> None:
    faults = ("--fault-rate", "0.1", "--faults", FAULTS, "--seed", "11")
    args = ("--concurrency", "4", "--music-concurrency", "2", "--latency-ms", "400", *faults)
    with (
        services.PrivatePostgres() as postgres,
        contextmanager(services.fresh_postgres_database)(postgres.url) as database,
        services.PrivateRedis() as redis,
        running_emulator(*args, "--api-key", KEY, cwd=tmp_path) as emulator_url,
    ):
        host, port = s3_server.removeprefix("http://").split(":")
        s3_proxy = PausableProxy((host, int(port)))
        env = production_environment(
            tmp_path, api_key=KEY, emulator_url=emulator_url, postgres_url=database,
            redis_url=f"{redis.url}/0", s3_server=s3_proxy.url, s3_bucket=s3_bucket,
            AUDIOBATCH_API_CONCURRENCY="4", AUDIOBATCH_MUSIC_CONCURRENCY="2",
            AUDIOBATCH_LEASE_S="3", AUDIOBATCH_MAX_LOST_LEASES="20",
        )  # fmt: skip
        assert audiobatch("db", "upgrade", cwd=tmp_path, env=env).returncode == 0
        chaos = Chaos(tmp_path, env, database)
        scheduler = start("scheduler", cwd=tmp_path, env=env, log=tmp_path / "scheduler.log")
        # the store goes first: no job can succeed while it is away, so however fast this machine
        # renders, the batch is still running when PostgreSQL and Redis go down
        disruptions = [
            Disruption(1.0, "S3 unreachable 10 s", lambda: s3_proxy.outage(10.0)),
            Disruption(3.0, "PostgreSQL restarted", restart(postgres, down_s=2.0)),
            Disruption(6.0, "Redis restarted empty", restart(redis, down_s=1.0)),
        ]
        try:
            manifest = write_mixed_manifest(tmp_path, dialogues=20, songs=4)
            report, seconds = run_with_kills(
                chaos, manifest, workers=3, kill_every_s=1.5, timeout_s=240, seed=5,
                disruptions=disruptions,
            )  # fmt: skip
        finally:
            chaos.stop_all()
            stop(scheduler)
        problems, extra = output_problems(database, s3_server, s3_bucket, emulator_url)
        env["AWS_ENDPOINT_URL"] = s3_server  # the proxy has gone with the test's services
        checked = audiobatch("check", "--objects", cwd=tmp_path, env=env)
        verified = audiobatch("verify", report["id"], cwd=tmp_path, env=env)
    logs = "".join(p.read_text()[-3000:] for p in tmp_path.glob("*.log"))
    assert report["status"] == "succeeded", f"{report['counts']}\n{logs}"
    assert chaos.kills >= 3
    assert problems == []
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert verified.returncode == 0, verified.stdout + verified.stderr
    assert extra <= chaos.kills_in_flight, (extra, chaos.kills_in_flight)
    print(
        f"{len(report['jobs'])} jobs, {chaos.kills} kills ({chaos.kills_in_flight} jobs in "
        f"flight), {', '.join(chaos.disrupted)}, {extra} generations beyond one a job, "
        f"{seconds:.1f} s"
    )
