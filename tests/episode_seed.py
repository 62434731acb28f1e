"""An ended batch with an episode rendered in parts, in raw PCM, and a call in G.711 mu-law:
the outputs a browser cannot play as they are, and parts to fold under their episode."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy.orm import Session

from audiobatch.db.models import Artifact, Attempt, Batch, BatchStatus, Job, JobStatus, utcnow
from audiobatch.db.session import session_scope
from audiobatch.emulator.audio import OutputFormat, Turn, render
from audiobatch.storage import Storage

HOST = "JBFqnCBsd6RMkjVDRZzb"
PARTS = 3


@dataclass
class SeededSeason:
    batch: str = "b-season"
    name: str = "season"
    jobs: dict[str, int] = field(default_factory=dict)  # job key -> database id
    audio: dict[str, bytes] = field(default_factory=dict)  # job key -> its audio's bytes


def seed_season(url: str, storage: Storage) -> SeededSeason:
    """Write the batch: ``ep01`` (``pcm_16000``) of three parts, and ``call`` (``ulaw_8000``)."""
    seeded = SeededSeason()
    now = utcnow()
    start = now - timedelta(minutes=8)
    with session_scope(url) as session:
        session.add(
            Batch(
                id=seeded.batch, name=seeded.name, status=BatchStatus.SUCCEEDED,
                manifest_sha256=seeded.batch.ljust(64, "0"), source="/manifests/season.csv",
                created_at=now - timedelta(minutes=9), finished_at=now - timedelta(minutes=2),
            )
        )  # fmt: skip
        session.flush()
        episode = _job(session, seeded, "ep01", "pcm_16000", None, start)
        for n in range(1, PARTS + 1):
            _job(session, seeded, f"ep01/part-{n:03d}", "pcm_16000", episode, start)
        _job(session, seeded, "call", "ulaw_8000", None, start)
        for key, job_id in seeded.jobs.items():
            job = session.get_one(Job, job_id)
            text = f"Line {key} of the season, spoken."
            audio, _ = render([Turn(HOST, text)], OutputFormat.parse(job.spec["output_format"]))
            seeded.audio[key] = audio
            ext = job.spec["output_format"].split("_")[0]
            content_type = {"pcm": "audio/pcm", "ulaw": "audio/basic"}[ext]
            stored = storage.write(
                f"{seeded.name}/{seeded.batch}/{key}/audio.{ext}", [audio], content_type
            )
            session.add(
                Artifact(
                    job_id=job.id, batch_id=seeded.batch, name=f"audio.{ext}", key=stored.key,
                    uri=stored.uri, bytes=stored.bytes, sha256=stored.sha256,
                    content_type=content_type, created_at=start,
                )
            )  # fmt: skip
    return seeded


def _job(
    session: Session, seeded: SeededSeason, key: str, fmt: str, episode: Job | None, start: datetime
) -> Job:
    spec = {"id": key, "inputs": [{"voice": HOST, "text": key}], "output_format": fmt}
    job = Job(
        batch_id=seeded.batch, key=key, kind="dialogue", queue="dialogue", spec=spec,
        status=JobStatus.SUCCEEDED, attempts=0 if key == "ep01" else 1,  # stitching calls no API
        part_of=episode.id if episode is not None else None, created_at=start,
        started_at=start, finished_at=start + timedelta(seconds=95),
    )  # fmt: skip
    session.add(job)
    session.flush()
    seeded.jobs[key] = job.id
    if job.attempts:
        session.add(
            Attempt(
                job_id=job.id, batch_id=seeded.batch, number=1, worker="test:1",
                started_at=start, finished_at=start + timedelta(milliseconds=95_400),
                outcome="succeeded", http_status=200, latency_ms=95_400, character_cost=len(key),
            )
        )  # fmt: skip
    return job
