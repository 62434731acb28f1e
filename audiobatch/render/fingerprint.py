"""What a job asks of which API, as one sha256: its kind, its request fields, the bytes it uploads,
and the backend it is sent to.

Two jobs with the same fingerprint send the same request to the same API and account: the later
one may reuse the earlier one's outputs instead of paying for a second generation. The backend
counts (see :mod:`audiobatch.backend`): the emulator's audio is never reused for a real key, nor
one account's outputs for another. The job's own id is left out; inputs
read from files, S3 or other jobs count by their content, so a changed source is a new request.
Fields that never reach the API (``NOT_SENT``: how an episode is cut into parts) are left out too,
except those that change the stored outputs (``SHAPES_OUTPUT``: the loudness), counted when set.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict
from typing import Any

from audiobatch.backend import Backend
from audiobatch.manifest.common import JobBase
from audiobatch.render.context import RenderContext
from audiobatch.render.sources import input_digest


def request_fingerprint(
    kind: str, spec: dict[str, Any], job: JobBase, ctx: RenderContext, backend: Backend
) -> str:
    """The fingerprint of the job stored as ``spec`` (and parsed as ``job``), sent to ``backend``."""
    inputs = {
        name: input_digest(getattr(job, name), need, ctx) for name, need in job.REFERENCES.items()
    }
    request = {
        field: value for field, value in spec.items() if field != "id" and field not in job.NOT_SENT
    }
    asked: dict[str, Any] = {"kind": kind, "request": request, "inputs": inputs}
    shaping = {field: spec[field] for field in job.SHAPES_OUTPUT if spec.get(field) is not None}
    if shaping:  # only when set: a job without them keeps the fingerprint it always had
        asked["outputs"] = shaping
    canonical = json.dumps(
        {**asked, "backend": asdict(backend)},
        sort_keys=True,
        separators=(",", ":"),
    )
    return hashlib.sha256(canonical.encode()).hexdigest()
