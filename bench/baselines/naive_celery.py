"""The Celery batch a user would write first: one task a job, retried on any error, no shared limit.

Each task calls the API through the official SDK and writes the answer to ``NAIVE_OUT/ID.EXT``. A
refused request (429) raises, and ``autoretry_for`` queues the task again after an exponential,
jittered countdown. Workers share nothing, so with more worker threads than the API's concurrency
the extra requests are refused and retried.

    workers:  celery -A naive_celery worker --pool threads --concurrency 8 -n naive1@%h
    producer: python naive_celery.py MANIFEST   (one task a manifest line, then waits for all)

Settings come from the environment: NAIVE_REDIS_URL (broker and result backend), NAIVE_OUT,
ELEVENLABS_API_KEY and ELEVENLABS_BASE_URL (optional).
"""

from __future__ import annotations

import argparse
import json
import os
from pathlib import Path
from typing import Any

from celery import Celery
from elevenlabs import DialogueInput, ElevenLabs

REDIS_URL = os.environ["NAIVE_REDIS_URL"]
OUT = Path(os.environ["NAIVE_OUT"])
WAIT_S = 1800

app = Celery("naive", broker=REDIS_URL, backend=REDIS_URL)
client = ElevenLabs(
    api_key=os.environ["ELEVENLABS_API_KEY"], base_url=os.environ.get("ELEVENLABS_BASE_URL")
)


# Celery's default of 3 retries drops jobs once 429s pile up; every job has to come out here.
@app.task(name="naive.render", autoretry_for=(Exception,), retry_backoff=True, max_retries=None)  # type: ignore[untyped-decorator]
def render(job: dict[str, Any]) -> None:
    inputs = [DialogueInput(text=line["text"], voice_id=line["voice"]) for line in job["inputs"]]
    audio = b"".join(
        client.text_to_dialogue.convert(inputs=inputs, output_format=job["output_format"])
    )
    extension = job["output_format"].split("_")[0]
    (OUT / f"{job['id']}.{extension}").write_bytes(audio)


def main(manifest: Path) -> None:
    OUT.mkdir(parents=True, exist_ok=True)
    jobs = [json.loads(line) for line in manifest.read_text().splitlines()]
    results = [render.delay(job) for job in jobs]
    for result in results:
        result.get(timeout=WAIT_S)


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("manifest", type=Path)
    main(parser.parse_args().manifest)
