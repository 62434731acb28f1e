"""Reusing the outputs of an earlier job that made the same request, instead of paying again."""

from __future__ import annotations

import logging

from audiobatch.db import outputs
from audiobatch.db.session import patiently
from audiobatch.errors import NotFoundError
from audiobatch.render.context import RenderContext
from audiobatch.storage import Storage

log = logging.getLogger(__name__)


def reuse_earlier_outputs(
    database_url: str, storage: Storage, ctx: RenderContext, request_sha256: str
) -> int | None:
    """Copy the outputs of the latest job that succeeded with the same request into this job's
    place, and take what its loudness pass measured; that job's id, or None when there is none
    or its outputs are no longer all stored."""
    earlier = patiently(
        database_url, lambda session: outputs.earlier_outputs(session, request_sha256)
    )
    if earlier is None:
        return None
    source, artifacts, loudness = earlier
    missing = [a.key for a in artifacts if storage.size(a.key) != a.bytes]
    if not artifacts or missing:
        log.info("job %s made this request, but %s is gone: rendering again", source, missing)
        return None
    try:
        for artifact in artifacts:
            ctx.store(artifact.name, storage.read(artifact.key), artifact.content_type)
    except NotFoundError as exc:  # removed since (a prune of that job's batch)
        log.info("job %s made this request, but %s: rendering again", source, exc)
        ctx.outputs.clear()  # the copies made stay as leftovers the rendering clears
        return None
    ctx.loudness = loudness
    return source
