"""A batch rendered the way a user would write it: the official SDK, asyncio, a semaphore.

Reads a JSONL manifest of dialogue jobs (``id``, ``inputs`` of ``voice``/``text``,
``output_format``), renders every job with ``AsyncElevenLabs``, at most CONCURRENCY at a time,
retrying a failed request after 1, 2, 4... seconds, and writes each answer to ``OUT/ID.EXT``.

    ELEVENLABS_API_KEY=... python sdk_asyncio.py MANIFEST OUT [--base-url URL] [--concurrency N]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
from pathlib import Path
from typing import Any

from elevenlabs import AsyncElevenLabs, DialogueInput

CONCURRENCY = 8  # the default of --concurrency
ATTEMPTS = 5


async def render(
    client: AsyncElevenLabs, slots: asyncio.Semaphore, job: dict[str, Any], out: Path
) -> None:
    inputs = [DialogueInput(text=line["text"], voice_id=line["voice"]) for line in job["inputs"]]
    async with slots:
        for attempt in range(ATTEMPTS):
            try:
                chunks = client.text_to_dialogue.convert(
                    inputs=inputs, output_format=job["output_format"]
                )
                audio = b"".join([chunk async for chunk in chunks])
                break
            except Exception:
                if attempt == ATTEMPTS - 1:
                    raise
                await asyncio.sleep(2**attempt)
    extension = job["output_format"].split("_")[0]
    (out / f"{job['id']}.{extension}").write_bytes(audio)


async def main(manifest: Path, out: Path, base_url: str | None, concurrency: int) -> None:
    client = AsyncElevenLabs(api_key=os.environ["ELEVENLABS_API_KEY"], base_url=base_url)
    slots = asyncio.Semaphore(concurrency)
    jobs = [json.loads(line) for line in manifest.read_text().splitlines()]
    out.mkdir(parents=True, exist_ok=True)
    await asyncio.gather(*(render(client, slots, job, out) for job in jobs))


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("manifest", type=Path)
    parser.add_argument("out", type=Path)
    parser.add_argument("--base-url", help="the API's address; the SDK's default when left out")
    parser.add_argument("--concurrency", type=int, default=CONCURRENCY)
    args = parser.parse_args()
    asyncio.run(main(args.manifest, args.out, args.base_url, args.concurrency))
