"""Validation at scale: `audiobatch validate` of an N-job JSONL manifest, its wall time and peak RSS.

Writes a manifest of mixed jobs (dialogue of two to four turns, music, stems of that music, and
voice changes of the dialogue: half the jobs depend on another), then runs `audiobatch validate`
on it in a subprocess as a user does, and reads the child's peak RSS from the kernel
(``resource.getrusage(RUSAGE_CHILDREN)``, one fresh child a run: the high-water mark of the
largest child so far, so runs go from small to large). Targets: 200,000 jobs in at most 20 s and
400 MB.

    .venv/bin/python bench/manifest_scale.py [--jobs 200000] [--runs 3]
"""

from __future__ import annotations

import argparse
import json
import resource
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.acceptance.cli import audiobatch, clean_environment

TARGET_S = 20.0
TARGET_MB = 400.0
VOICES = ("JBFqnCBsd6RMkjVDRZzb", "Aw4FAjKCGjjNkVhN1Xmq", "pNInz6obpgDQGcFmaJgB")


def job(n: int) -> dict[str, Any]:
    """The ``n``-th job: four kinds in turn, the second of each pair reading the first's audio."""
    kind = n % 4
    if kind == 0:
        turns = [
            {"voice": VOICES[(n + t) % 3], "text": f"Line {t} of scene {n}, read aloud."}
            for t in range(2 + n % 3)
        ]
        return {"id": f"scene-{n}", "kind": "dialogue", "inputs": turns, "seed": n}
    if kind == 1:
        return {"id": f"redub-{n}", "kind": "voice_change", "voice": VOICES[n % 3],
                "source": {"from": f"scene-{n - 1}"}}  # fmt: skip
    if kind == 2:
        return {"id": f"theme-{n}", "kind": "music", "prompt": f"Warm lo-fi intro number {n}",
                "music_length_ms": 10_000}  # fmt: skip
    return {"id": f"stems-{n}", "kind": "stems", "source": {"from": f"theme-{n - 1}"}}


def write_manifest(path: Path, jobs: int) -> None:
    with open(path, "w") as out:
        for n in range(jobs):
            out.write(json.dumps(job(n)) + "\n")


def peak_rss_mb() -> float:
    """The largest peak RSS of any child waited for so far (Linux reports KiB)."""
    return resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024


def one_validation(manifest: Path, jobs: int) -> float:
    """Seconds `audiobatch validate` took; raises SystemExit unless it found the manifest valid."""
    env = clean_environment()
    started = time.monotonic()
    result = audiobatch("validate", str(manifest), cwd=manifest.parent, env=env, timeout_s=600)
    elapsed = time.monotonic() - started
    if result.returncode != 0 or f"{jobs} jobs" not in result.stdout:
        raise SystemExit(f"validate failed ({result.returncode}): {result.stderr[-2000:]}")
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--jobs", type=int, default=200_000)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="audiobatch-bench-") as folder:
        manifest = Path(folder) / "scale.jsonl"
        write_manifest(manifest, args.jobs)
        size_mb = manifest.stat().st_size / (1 << 20)
        seconds = []
        for run in range(args.runs):
            seconds.append(one_validation(manifest, args.jobs))
            print(
                f"run {run + 1}: {seconds[-1]:.2f} s, peak RSS {peak_rss_mb():.0f} MB", flush=True
            )
    median, peak = statistics.median(seconds), peak_rss_mb()
    print(
        f"{args.jobs:,} jobs ({size_mb:.1f} MB of JSONL): median {median:.2f} s (target"
        f" {TARGET_S:.0f} s), peak RSS {peak:.0f} MB (target {TARGET_MB:.0f} MB)"
    )
    if median > TARGET_S or peak > TARGET_MB:
        raise SystemExit(1)


if __name__ == "__main__":
    main()
