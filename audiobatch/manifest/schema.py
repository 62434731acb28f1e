"""The validated manifest: :data:`JobSpec` (one model per job kind, discriminated on ``kind``) and
:class:`Manifest`.

A job's ``model_dump(mode="json", by_alias=True)`` is what the database stores and workers read
back with ``TypeAdapter(JobSpec).validate_python(...)``: voices are stored as resolved ids, local
sources as absolute paths, S3 sources as ``s3://bucket/key`` and references as ``{"from": id}``.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Annotated, Self

from pydantic import Field, TypeAdapter, model_validator

from audiobatch.accounts import DEFAULT_ACCOUNT
from audiobatch.manifest.audio import StemsJob, VoiceChangeJob
from audiobatch.manifest.batch_settings import BatchSettings
from audiobatch.manifest.common import BatchName, JobBase, JobOutput, StrictModel
from audiobatch.manifest.dialogue import DialogueJob
from audiobatch.manifest.graph import JobNode, Reference, check_graph
from audiobatch.manifest.music import MusicJob, MusicPlanJob
from audiobatch.manifest.notify import Notify
from audiobatch.suggestions import did_you_mean

JobSpec = Annotated[
    DialogueJob | MusicJob | MusicPlanJob | StemsJob | VoiceChangeJob,
    Field(discriminator="kind"),
]
"""Any job of a manifest; ``kind`` picks the model."""
_BATCH_NAME = TypeAdapter(BatchName)

MODELS: Mapping[str, type[JobBase]] = {
    "dialogue": DialogueJob,
    "music": MusicJob,
    "music_plan": MusicPlanJob,
    "stems": StemsJob,
    "voice_change": VoiceChangeJob,
}
"""The job model of each ``kind``."""

KINDS: tuple[str, ...] = tuple(MODELS)


def unknown_kinds(values: Iterable[str]) -> str | None:
    """What is wrong with ``values`` as job kinds (each unknown one, with the closest known
    kind), or None when every one is known."""
    unknown = sorted(set(values) - set(KINDS))
    if not unknown:
        return None
    named = ", ".join(f"{kind}{did_you_mean(kind, KINDS)}" for kind in unknown)
    return f"unknown job kind(s) {named}; known: {', '.join(KINDS)}"


REFERENCES_BY_KIND: Mapping[str, Mapping[str, str]] = {
    kind: model.REFERENCES for kind, model in MODELS.items()
}
"""For each kind, the fields that may read another job's output, and what they need from it."""

FIELDS_BY_KIND: Mapping[str, frozenset[str]] = {
    kind: frozenset(info.alias or name for name, info in model.model_fields.items())
    for kind, model in MODELS.items()
}
"""The fields a job of each kind may set, as written in a manifest."""

NOT_DEFAULTABLE: frozenset[str] = frozenset({"id", "kind"})
DEFAULTABLE: frozenset[str] = frozenset().union(*FIELDS_BY_KIND.values()) - NOT_DEFAULTABLE
"""Fields a manifest's ``defaults`` may set: any job field of any kind except ``id`` and ``kind``."""


def job_nodes(jobs: Sequence[JobBase]) -> list[JobNode]:
    """The dependency-graph view of validated jobs."""
    nodes = []
    for job in jobs:
        refs = tuple(
            Reference(field, value.from_, need)
            for field, need in job.REFERENCES.items()
            if isinstance(value := getattr(job, field), JobOutput)
        )
        nodes.append(JobNode(job.id, str(getattr(job, "kind", "")), refs))
    return nodes


def canonical_sha256(batch: str, jobs: Sequence[JobBase]) -> str:
    """sha256 of the batch name and the resolved jobs as canonical JSON (sorted keys, no spaces).

    Two submissions of the same work give the same digest, however their manifests were written.
    """
    # The text of {"batch": ..., "jobs": [...]} dumped whole, hashed a job at a time: a large
    # manifest is never held twice more.
    digest = hashlib.sha256(f'{{"batch":{_canonical(batch)},"jobs":['.encode())
    for number, job in enumerate(jobs):
        text = _canonical(job.model_dump(mode="json", by_alias=True))
        digest.update((f",{text}" if number else text).encode())
    digest.update(b"]}")
    return digest.hexdigest()


def _canonical(value: object) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


class Manifest(StrictModel):
    """One validated manifest: a batch of jobs, ready to be written to the database.

    ``defaults`` and ``voices`` of the file are already applied; ``source`` is the file it came
    from and ``sha256`` the :func:`canonical_sha256` of ``batch`` and ``jobs``; ``source_roots``
    are the folders (absolute, links resolved) its local sources were confined to, which the
    worker checks them against again before reading; ``tags`` label its batch, ``priority`` orders it among others and ``account`` renders it.
    """

    batch: BatchName
    jobs: Annotated[list[JobSpec], Field(min_length=1)]
    source: str
    sha256: Annotated[str, Field(pattern=r"^[0-9a-f]{64}$")]
    source_roots: list[str] = Field(default_factory=list)
    # labels to find the batch by (audiobatch.manifest.tags); not part of ``sha256``: the same
    # jobs under other tags are the same work
    tags: list[str] = Field(default_factory=list)
    # the batch's priority (audiobatch.priorities), None: as submitted, else normal; not part of
    # ``sha256`` either
    priority: int | None = None
    # where its batch's webhook events go (audiobatch.manifest.notify); not part of ``sha256``
    notify: Notify | None = None
    # the account whose API key renders its batch (audiobatch.accounts); not part of ``sha256``
    account: str = DEFAULT_ACCOUNT

    @model_validator(mode="after")
    def _consistent_graph(self) -> Self:
        problems = check_graph(job_nodes(self.jobs))
        if problems:
            raise ValueError(
                "; ".join(f"jobs[{self.jobs[p.index].id}]: {p.message}" for p in problems)
            )
        return self

    @classmethod
    def build(
        cls,
        batch: str,
        jobs: Sequence[JobSpec],
        source: str,
        source_roots: Sequence[Path | str] = (),
        settings: BatchSettings = BatchSettings(),
    ) -> Manifest:
        """A manifest of already validated jobs, with its digest computed.

        The jobs, their graph and the tags were checked when they were validated (a manifest's,
        or a valid manifest's under a new batch name): only the batch name is checked again, so
        that a large manifest is not validated twice.
        """
        return cls.model_construct(
            batch=_BATCH_NAME.validate_python(batch),
            jobs=list(jobs),
            source=source,
            sha256=canonical_sha256(batch, jobs),
            source_roots=[str(root) for root in source_roots],
            tags=list(settings.tags),
            priority=settings.priority,
            notify=settings.notify,
            account=settings.account,
        )

    @property
    def settings(self) -> BatchSettings:
        """What the manifest says of its batch as a whole (flags applied)."""
        return BatchSettings(
            tags=tuple(self.tags),
            priority=self.priority,
            notify=self.notify,
            account=self.account,
        )

    def job(self, job_id: str) -> JobSpec:
        """The job with this id; :class:`KeyError` when there is none."""
        for job in self.jobs:
            if job.id == job_id:
                return job
        raise KeyError(job_id)
