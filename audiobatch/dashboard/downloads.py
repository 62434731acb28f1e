"""Outputs, downloaded: a presigned URL where the store has them (S3), else the bytes streamed
from storage; raw PCM and G.711 also as WAV (``?as=wav``, always streamed), for pages to play. Only an output recorded in SQL for one of the batch's jobs, stored under the
batch's folder, is served: a path names a job and a file, never a place in storage."""

from __future__ import annotations

from typing import Annotated, Any, Literal
from urllib.parse import quote

from fastapi import APIRouter, Query
from fastapi.responses import FileResponse, RedirectResponse, Response, StreamingResponse

from audiobatch.dashboard.playable import (
    MAX_WAV_DATA_BYTES,
    WAV_CONTENT_TYPE,
    as_wav,
    wav_size,
)
from audiobatch.dashboard.state import StateDep
from audiobatch.db.listings import find_output
from audiobatch.db.session import session_scope
from audiobatch.elevenlabs.formats import AUTO, DEFAULT_OUTPUT_FORMAT, is_raw
from audiobatch.errors import NotFoundError

router = APIRouter(tags=["outputs"])
PRESIGNED_FOR_S = 900


def output_url(batch_id: str, job_key: str, name: str) -> str:
    return f"/batches/{quote(batch_id)}/outputs/{quote(job_key)}/{quote(name)}"


def output_format_of(kind: str, spec: dict[str, Any]) -> str:
    """The format a job's audio was asked in (the API's default where it set none)."""
    default = AUTO if kind == "music" else DEFAULT_OUTPUT_FORMAT
    return str(spec.get("output_format") or default)


@router.get(
    "/batches/{batch_id}/outputs/{job_key:path}/{name}",
    response_class=Response,
    responses={307: {"description": "Redirect to a presigned URL (S3)"}},
)
def download(
    batch_id: str,
    job_key: str,
    name: str,
    state: StateDep,
    as_: Annotated[
        Literal["wav"] | None,
        Query(
            alias="as",
            description="wav: raw PCM or G.711 audio behind a WAV header, for a browser to play.",
        ),
    ] = None,
) -> Response:
    """One output of one of the batch's jobs (a part's key, ``episode/part-001``, has a slash)."""
    with session_scope(state.database_url) as session:  # not held while the bytes are sent
        batch, artifact = find_output(session, batch_id, job_key, name)
        output_format = output_format_of(artifact.job.kind, artifact.job.spec)
    if not artifact.key.startswith(f"{batch.name}/{batch.id}/"):
        raise NotFoundError(f"{job_key}/{name} is not stored among batch {batch.id}'s outputs")
    storage = state.storage
    if as_ == "wav":
        if not artifact.content_type.startswith("audio/") or not is_raw(output_format):
            raise NotFoundError(f"{job_key}/{name} is not raw PCM or G.711 audio: download it")
        if artifact.bytes > MAX_WAV_DATA_BYTES:
            raise NotFoundError(f"{job_key}/{name} is too long for a WAV header: download it")
        # checked before the answer starts: its length is the recorded one
        if storage.size(artifact.key) != artifact.bytes:
            raise NotFoundError(f"{job_key}/{name} of batch {batch.id} is gone from storage")
        return StreamingResponse(
            as_wav(storage.read(artifact.key), artifact.bytes, output_format),
            media_type=WAV_CONTENT_TYPE,
            headers={"content-length": str(wav_size(artifact.bytes, output_format))},
        )
    if state.settings.dashboard_downloads == "presigned":
        presigned = storage.presigned_url(artifact.key, PRESIGNED_FOR_S)
        if presigned is not None:
            return RedirectResponse(presigned, status_code=307)
    path = storage.local_path(artifact.key)
    if path is not None:
        if not path.is_file():
            raise NotFoundError(f"{job_key}/{name} of batch {batch.id} is gone from storage")
        return FileResponse(path, media_type=artifact.content_type)
    return StreamingResponse(storage.read(artifact.key), media_type=artifact.content_type)
