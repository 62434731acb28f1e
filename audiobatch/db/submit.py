"""Writing manifests into SQL: a batch and all its jobs in one transaction."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import insert
from sqlalchemy.orm import Session

from audiobatch.db.models import Batch, BatchStatus, Job, JobDependency, JobStatus
from audiobatch.manifest import Manifest
from audiobatch.render.families import FAMILIES


@dataclass(frozen=True)
class SubmittedBatch:
    id: str
    name: str
    jobs: int


def new_batch_id() -> str:
    return uuid.uuid4().hex[:12]


def insert_batch(session: Session, manifest: Manifest, now: datetime) -> SubmittedBatch:
    """Insert one manifest as a batch; jobs without dependencies start ``queued``, others ``pending``."""
    batch_id = new_batch_id()
    session.add(
        Batch(
            id=batch_id,
            name=manifest.batch,
            status=BatchStatus.QUEUED,
            manifest_sha256=manifest.sha256,
            source=manifest.source,
            created_at=now,
        )
    )
    session.flush()
    rows = [
        {
            "batch_id": batch_id,
            "key": job.id,
            "kind": job.kind,
            "queue": FAMILIES[job.kind].queue,
            "spec": job.model_dump(mode="json", by_alias=True),
            "status": JobStatus.PENDING if job.dependencies() else JobStatus.QUEUED,
            "attempts": 0,
            "created_at": now,
        }
        for job in manifest.jobs
    ]
    ids = dict(
        session.execute(
            insert(Job).returning(Job.key, Job.id, sort_by_parameter_order=True), rows
        ).all()
    )
    edges = [
        {"job_id": ids[job.id], "parent_id": ids[parent]}
        for job in manifest.jobs
        for parent in job.dependencies()
    ]
    if edges:
        session.execute(insert(JobDependency), edges)
    return SubmittedBatch(id=batch_id, name=manifest.batch, jobs=len(rows))
