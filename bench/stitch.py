"""Stitching: how fast a full-length episode's parts join into one file, and in how much memory.

Writes a 4-voice episode of ``--chars`` characters, cuts it into parts as submission does
(``--part-chars``), renders each part with the emulator's synthesis in ``--format`` (the audio the
API would send), then stitches the part files into one, as an episode job does, in a fresh child
process: the real-time factor is the episode's audio duration over the stitching time, and peak
memory the child's high-water RSS (and what it held before stitching began). The stitched file's
duration is checked against the sum of the parts'. Targets: MP3 at 40 times real time or more,
peak RSS that does not grow with the episode's length (stitching streams).

    .venv/bin/python bench/stitch.py [--chars 40000] [--format mp3_44100_128] [--pause-ms 0]
"""

from __future__ import annotations

import argparse
import resource
import tempfile
import time
from multiprocessing import get_context
from pathlib import Path

import av

from audiobatch.elevenlabs.formats import extension
from audiobatch.emulator.audio import OutputFormat, Turn, render
from audiobatch.manifest import DialogueInput
from audiobatch.manifest.episodes import cut_parts
from audiobatch.render.stitch import Timeline, is_raw, join_encoded, join_raw

VOICES = (
    "JBFqnCBsd6RMkjVDRZzb",
    "Aw4FAjKCGjjNkVhN1Xmq",
    "EXAVITQu4vr4xnSDxMaL",
    "IKne3meq5aSn9XLyUdCD",
)
SENTENCE = "Turn {n} explains, once more, why long episodes are rendered in parts and stitched. "


def episode(characters: int) -> list[DialogueInput]:
    inputs: list[DialogueInput] = []
    total = 0
    while total < characters:
        text = "".join(SENTENCE.format(n=len(inputs)) for _ in range(1 + len(inputs) % 4)).strip()
        inputs.append(DialogueInput(voice=VOICES[len(inputs) % 4], text=text))
        total += len(text)
    return inputs


def render_parts(
    inputs: list[DialogueInput], part_chars: int, fmt: str, folder: Path
) -> list[Path]:
    paths = []
    for number, part in enumerate(cut_parts(inputs, part_chars), 1):
        audio, _ = render(
            [Turn(line.voice, line.text) for line in part.lines], OutputFormat.parse(fmt)
        )
        path = folder / f"part-{number:03d}.{extension(fmt)}"
        path.write_bytes(audio)
        paths.append(path)
    return paths


def stitch(paths: list[Path], fmt: str, pause_ms: int, target: Path) -> tuple[float, float, float]:
    """In the child: (stitching seconds, peak RSS MB before, peak RSS MB after)."""
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    timeline = Timeline.of(fmt, pause_ms)
    started = time.perf_counter()
    if is_raw(fmt):
        with open(target, "wb") as out:
            for chunk in join_raw(([p.read_bytes()] for p in paths), fmt, timeline):
                out.write(chunk)
    else:
        join_encoded(paths, fmt, timeline, target)
    elapsed = time.perf_counter() - started
    return elapsed, before, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def duration_s(path: Path, fmt: str) -> float:
    rate = OutputFormat.parse(fmt).rate_hz
    if is_raw(fmt):
        return path.stat().st_size / (2 if fmt.startswith("pcm") else 1) / rate
    with av.open(str(path)) as container:
        return sum(frame.samples for frame in container.decode(audio=0)) / rate


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--chars", type=int, default=40_000)
    parser.add_argument("--part-chars", type=int, default=2000)
    parser.add_argument("--format", default="mp3_44100_128")
    parser.add_argument("--pause-ms", type=int, default=0)
    args = parser.parse_args()
    inputs = episode(args.chars)
    with tempfile.TemporaryDirectory(prefix="bench-stitch-") as folder:
        paths = render_parts(inputs, args.part_chars, args.format, Path(folder))
        target = Path(folder) / f"episode.{extension(args.format)}"
        with get_context("spawn").Pool(1) as pool:
            elapsed, before_mb, peak_mb = pool.apply(
                stitch, (paths, args.format, args.pause_ms, target)
            )
        parts_s = sum(duration_s(path, args.format) for path in paths)
        stitched_s = duration_s(target, args.format)
    pauses_s = args.pause_ms / 1000 * (len(paths) - 1)
    print(f"characters          {sum(len(line.text) for line in inputs)}")
    print(f"parts               {len(paths)} (at most {args.part_chars} characters)")
    print(f"format              {args.format}")
    print(f"audio               {stitched_s / 60:.1f} min")
    print(f"stitch time         {elapsed:.2f} s")
    print(f"real-time factor    {stitched_s / elapsed:.0f}x")
    print(f"peak RSS            {peak_mb:.0f} MB ({before_mb:.0f} MB before stitching)")
    print(
        f"duration check      stitched {stitched_s:.3f} s, parts + pauses {parts_s + pauses_s:.3f} s"
    )


if __name__ == "__main__":
    main()
