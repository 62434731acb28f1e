"""What the database says was stored: a job's outputs as the render code reads them (its own, its
parents', those of an earlier identical request that may be reused), and a batch's every output
row, for checking against the store."""

from __future__ import annotations

from typing import Any, NamedTuple

from sqlalchemy import select
from sqlalchemy.orm import Session

from audiobatch.db.models import Artifact, Job, JobStatus
from audiobatch.storage.audit import Recorded


class StoredArtifact(NamedTuple):
    """One stored, verified output of a job, as its artifact row records it."""

    name: str
    key: str  # the storage key
    bytes: int
    sha256: str
    content_type: str


class EarlierOutputs(NamedTuple):
    """What a succeeded job made: its outputs, and what its loudness pass measured."""

    job_id: int
    artifacts: list[StoredArtifact]
    loudness: dict[str, Any] | None


_ARTIFACT = (Artifact.name, Artifact.key, Artifact.bytes, Artifact.sha256, Artifact.content_type)


def artifacts_of(session: Session, batch_id: str, key: str) -> list[StoredArtifact]:
    """Every stored output of job ``key`` in the batch."""
    rows = session.execute(
        select(*_ARTIFACT)
        .join(Job, Job.id == Artifact.job_id)
        .where(Job.batch_id == batch_id, Job.key == key)
        .order_by(Artifact.id)
    )
    return [StoredArtifact(*row) for row in rows]


def earlier_outputs(session: Session, request_sha256: str) -> EarlierOutputs | None:
    """The latest succeeded job that made the same request, with its outputs; None if none did."""
    source = session.execute(
        select(Job.id, Job.loudness)
        .where(Job.request_sha256 == request_sha256, Job.status == JobStatus.SUCCEEDED)
        .order_by(Job.finished_at.desc())
        .limit(1)
    ).first()
    if source is None:
        return None
    job_id, loudness = source
    rows = session.execute(
        select(*_ARTIFACT).where(Artifact.job_id == job_id).order_by(Artifact.id)
    )
    return EarlierOutputs(job_id, [StoredArtifact(*row) for row in rows], loudness)


def recorded_outputs(session: Session, batch_id: str) -> list[Recorded]:
    """Every artifact row of the batch's jobs, in key order."""
    rows = session.execute(
        select(Artifact.key, Artifact.bytes, Artifact.sha256)
        .where(Artifact.batch_id == batch_id)
        .order_by(Artifact.key)
    )
    return [Recorded(key, size, sha256) for key, size, sha256 in rows]
