"""Input audio and plans for jobs that read them: another job's output, a local file, or S3.

An upload needs a seekable file (the request may be sent again), so every source is copied into a
temporary file first; a missing or unreadable source, or one that is not audio, fails the job
with a message naming it. Sources are confined again here, whatever validation said: a local
file is opened only once its path, links resolved, is inside its batch's source roots (and the
last link is not followed after that check), and an S3 object only in an allowed bucket.
"""

from __future__ import annotations

import hashlib
import json
import mimetypes
import os
import shutil
import stat
import tempfile
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import IO, Any

import av

from audiobatch.db.outputs import StoredArtifact
from audiobatch.elevenlabs.client import Upload
from audiobatch.errors import NotFoundError, SourceError
from audiobatch.manifest import JobOutput, LocalFile, S3Object, Source
from audiobatch.manifest.confinement import refusal, resolved_within, s3_problem
from audiobatch.render.context import RenderContext
from audiobatch.storage import Storage, open_storage

# which output of another job an input reads, by what it needs of it (see JobBase.REFERENCES)
PREFERENCES = {"audio": ("audio.", "vocals.", "instrumental."), "plan": ("plan.json",)}


@contextmanager
def source_upload(source: Source, ctx: RenderContext) -> Iterator[Upload]:
    """The source as an open, seekable upload; checked to be audio before anything is sent."""
    with tempfile.TemporaryDirectory(prefix="audiobatch-src-") as folder:
        path, name = _fetch(source, ctx, Path(folder))
        _check_audio(path, describe(source))
        content_type = mimetypes.guess_type(name)[0] or "application/octet-stream"
        with open(path, "rb") as stream:
            yield Upload(filename=name, stream=stream, content_type=content_type)


def parent_plan(ref: JobOutput, ctx: RenderContext) -> dict[str, Any]:
    """The composition plan a ``music_plan`` job stored as ``plan.json``."""
    key = _parent_artifact(ref, ctx, PREFERENCES["plan"]).key
    return read_stored_json(ctx.storage, key, f"the plan of job {ref.from_!r}")


def describe(source: Source) -> str:
    if isinstance(source, JobOutput):
        return f"the output of job {source.from_!r}"
    if isinstance(source, S3Object):
        return source.uri
    return str(source.path)


def input_digest(value: object, need: str, ctx: RenderContext) -> str | None:
    """The sha256 of the bytes an input field reads (``need``: ``audio`` or ``plan``), None for
    a value given inline (it is part of the request itself)."""
    if isinstance(value, JobOutput):
        return _parent_artifact(value, ctx, PREFERENCES[need]).sha256
    if not isinstance(value, LocalFile | S3Object):
        return None
    digest = hashlib.sha256()
    if isinstance(value, LocalFile):
        with _open_local(value, ctx) as handle:
            try:
                while chunk := handle.read(1 << 20):
                    digest.update(chunk)
            except OSError as exc:
                raise SourceError(f"source file {value.path} cannot be read: {exc}") from exc
    else:
        for chunk in read_stored(_s3_storage(value, ctx), value.key, value.uri):
            digest.update(chunk)
    return digest.hexdigest()


@contextmanager
def _open_local(source: LocalFile, ctx: RenderContext) -> Iterator[IO[bytes]]:
    """The local source, open for reading, if it is a file inside the batch's source roots."""
    real = resolved_within(source.path, ctx.source_roots)
    if real is None:
        raise SourceError(refusal(source.path, ctx.source_roots))
    try:
        descriptor = os.open(real, os.O_RDONLY | os.O_NOFOLLOW)
    except FileNotFoundError as exc:
        raise SourceError(f"source file {source.path} is missing") from exc
    except OSError as exc:
        raise SourceError(f"source file {source.path} cannot be read: {exc}") from exc
    with open(descriptor, "rb") as handle:
        if not stat.S_ISREG(os.fstat(descriptor).st_mode):
            raise SourceError(f"source {source.path} is not a file")
        yield handle


def _s3_storage(source: S3Object, ctx: RenderContext) -> Storage:
    problem = s3_problem(source.bucket, source.key, ctx.source_buckets)
    if problem:
        raise SourceError(problem)
    return open_storage(f"s3://{source.bucket}")


def _fetch(source: Source, ctx: RenderContext, folder: Path) -> tuple[Path, str]:
    if isinstance(source, LocalFile):
        target = folder / source.path.name
        with _open_local(source, ctx) as handle, open(target, "wb") as copy:
            try:
                shutil.copyfileobj(handle, copy)
            except OSError as exc:
                raise SourceError(f"source file {source.path} cannot be read: {exc}") from exc
        return target, source.path.name
    if isinstance(source, S3Object):
        storage, key = _s3_storage(source, ctx), source.key
    else:
        storage, key = ctx.storage, _parent_artifact(source, ctx, PREFERENCES["audio"]).key
    name = key.rsplit("/", 1)[-1]
    target = folder / name
    copy_stored(storage, key, target, describe(source))
    return target, name


def read_stored(storage: Storage, key: str, what: str) -> Iterator[bytes]:
    """The object at ``key``, streamed; a missing one is a :class:`SourceError` naming ``what``."""
    try:
        yield from storage.read(key)
    except NotFoundError as exc:
        raise SourceError(f"{what} is missing from storage ({key})") from exc


def read_stored_json(storage: Storage, key: str, what: str) -> dict[str, Any]:
    """The JSON object stored at ``key``; :class:`SourceError` naming ``what`` for anything else."""
    try:
        value = json.loads(b"".join(read_stored(storage, key, what)))
    except ValueError as exc:
        raise SourceError(f"{what} is not JSON ({key})") from exc
    if not isinstance(value, dict):
        raise SourceError(f"{what} is not a JSON object ({key})")
    return value


def copy_stored(storage: Storage, key: str, target: Path, what: str) -> None:
    """Write the object at ``key`` to the file ``target``."""
    with open(target, "wb") as handle:
        for chunk in read_stored(storage, key, what):
            handle.write(chunk)


def pick_output(
    artifacts: Sequence[StoredArtifact], job_key: str, preference: tuple[str, ...]
) -> StoredArtifact:
    """Job ``job_key``'s output whose name starts with the first prefix of ``preference`` that
    any of ``artifacts`` has."""
    for prefix in preference:
        for artifact in artifacts:
            if artifact.name.startswith(prefix):
                return artifact
    names = ", ".join(artifact.name for artifact in artifacts) or "nothing"
    raise SourceError(f"job {job_key!r} stored {names}: no usable output for this job")


def _parent_artifact(
    ref: JobOutput, ctx: RenderContext, preference: tuple[str, ...]
) -> StoredArtifact:
    return pick_output(ctx.parent_artifacts(ref.from_), ref.from_, preference)


def _check_audio(path: Path, what: str) -> None:
    try:
        with av.open(str(path)) as container:
            if not container.streams.audio:
                raise SourceError(f"{what} holds no audio stream")
    except av.error.FFmpegError as exc:
        raise SourceError(f"{what} is not audio that can be read: {exc}") from exc
