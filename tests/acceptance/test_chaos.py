"""Workers killed with SIGKILL every second and a half, and the object store unreachable for 10 s,
while a batch of mixed kinds renders against an emulator with 10% faults: every job ends with
exactly one verified output, and no generation is paid twice except for jobs whose worker died
with them in flight."""

from __future__ import annotations

from pathlib import Path

from tests.acceptance.chaos import (
    FAULTS,
    Chaos,
    PausableProxy,
    output_problems,
    run_with_kills,
    write_mixed_manifest,
)
from tests.acceptance.cli import audiobatch, running_emulator, start, stop
from tests.acceptance.conftest import ProductionEnv
from tests.acceptance.fleet import KEY


def test_every_job_ends_with_one_verified_output_while_workers_are_killed(
    tmp_path: Path, postgres_url: str, s3_server: str, s3_bucket: str, production_env: ProductionEnv
) -> None:
    faults = ("--fault-rate", "0.1", "--faults", FAULTS, "--seed", "11")
    args = ("--concurrency", "4", "--music-concurrency", "2", "--latency-ms", "400", *faults)
    with running_emulator(*args, "--api-key", KEY, cwd=tmp_path) as emulator_url:
        host, port = s3_server.removeprefix("http://").split(":")
        s3_proxy = PausableProxy((host, int(port)))
        env = production_env(
            emulator_url,
            KEY,
            AWS_ENDPOINT_URL=s3_proxy.url,
            AUDIOBATCH_API_CONCURRENCY="4",
            AUDIOBATCH_MUSIC_CONCURRENCY="2",
            AUDIOBATCH_LEASE_S="3",
            AUDIOBATCH_MAX_LOST_LEASES="20",
        )
        assert audiobatch("db", "upgrade", cwd=tmp_path, env=env).returncode == 0
        chaos = Chaos(tmp_path, env, postgres_url)
        scheduler = start("scheduler", cwd=tmp_path, env=env, log=tmp_path / "scheduler.log")
        try:
            manifest = write_mixed_manifest(tmp_path, dialogues=16, songs=4)
            report, seconds = run_with_kills(
                chaos, manifest, workers=3, kill_every_s=1.5, timeout_s=240, seed=5,
                s3_outage=(s3_proxy, 4.0, 10.0),
            )  # fmt: skip
        finally:
            chaos.stop_all()
            stop(scheduler)
        problems, extra = output_problems(postgres_url, s3_server, s3_bucket, emulator_url)
    logs = "".join(p.read_text()[-3000:] for p in tmp_path.glob("worker*.log"))
    assert report["status"] == "succeeded", f"{report['counts']}\n{logs}"
    assert chaos.kills >= 3
    assert problems == []
    assert extra <= chaos.kills_in_flight, (extra, chaos.kills_in_flight)
    print(
        f"{len(report['jobs'])} jobs, {chaos.kills} kills ({chaos.kills_in_flight} jobs in "
        f"flight), {extra} generations beyond one a job, {seconds:.1f} s"
    )
