"""Loudness to a standard: measure a programme, bring it to its target with one gain, and report
what it measured before and after (``loudness.json`` beside the audio).

Two passes keep it streaming: the first decodes the audio and measures it, the second decodes it
again and encodes it with one gain. Integrated loudness and true peak are ITU-R BS.1770 (EBU R128)
as FFmpeg's ``ebur128`` filter measures them; RMS, sample peak and noise floor (the RMS of the
quietest half second, as ACX reads it) are counted here. The gain brings the integrated loudness
(``podcast``, levels of one's own) or the RMS (``audiobook``, ACX) to its aim. A gain that would
lift the true peak above the ceiling (less a margin for the lossy encoder's overshoot) is reduced
to the gain that meets it, and the report says so: the output is never clipped. The encoded file
is measured again; for ``audiobook`` the report says whether it meets each ACX rule, and a noise
floor above ACX's limit is reported as it is, since a gain cannot lower it.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Iterable, Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import av
import av.filter
import numpy as np

from audiobatch.manifest.loudness import Loudness
from audiobatch.render.stitch import Timeline, encode_frames, joined_frames

LOUDNESS_FILE = "loudness.json"
ENCODER_MARGIN_DB = 0.5
"""Head room under the true-peak ceiling for what MP3 and Opus encoding adds to the peaks."""
CORRECTION_DB = 0.1
"""How far the encoded level may stray from the aim before the encoding is made again."""
NOISE_WINDOW_S = 0.5
FLOOR_DB = -120.0
"""What digital silence measures as (a level has no logarithm at zero)."""
SILENT_LUFS = -70.0
"""BS.1770's absolute gate: a programme at or below it has no integrated loudness to correct."""
ACX_RMS_DB = (-23.0, -18.0)
ACX_PEAK_DB = -3.0
ACX_NOISE_FLOOR_DB = -60.0


@dataclass(frozen=True)
class Aim:
    """What a loudness setting asks for: one level to reach (integrated loudness or RMS) and the
    true-peak ceiling."""

    name: str  # podcast, audiobook, custom
    true_peak_db: float
    integrated_lufs: float | None = None
    rms_db: float | None = None


PODCAST = Aim("podcast", true_peak_db=-1.0, integrated_lufs=-16.0)
AUDIOBOOK = Aim("audiobook", true_peak_db=ACX_PEAK_DB, rms_db=-20.5)  # within ACX's -23..-18
"""ACX's peak rule is of sample peaks: a ceiling on true peaks, never below them, keeps it."""


def aim_of(loudness: Loudness) -> Aim:
    """The aim of a job's ``loudness`` setting."""
    if loudness == "podcast":
        return PODCAST
    if loudness == "audiobook":
        return AUDIOBOOK
    return Aim("custom", loudness.true_peak_db, integrated_lufs=loudness.integrated_lufs)


@dataclass(frozen=True)
class Measurement:
    """What a programme measures: BS.1770 integrated loudness and true peak, and ACX's figures."""

    integrated_lufs: float
    true_peak_db: float
    sample_peak_db: float
    rms_db: float
    noise_floor_db: float
    duration_s: float


def _db(linear: float) -> float:
    return max(FLOOR_DB, 20 * math.log10(linear)) if linear > 0 else FLOOR_DB


@dataclass
class Meter:
    """Measures frames as they are handed to it (mono; any sample format and rate)."""

    graph: av.filter.Graph | None = None
    r128: dict[str, str] = field(default_factory=dict)  # the latest ebur128 readings
    samples: int = 0
    rate_hz: int = 0
    square_sum: float = 0.0
    peak: float = 0.0
    window: np.ndarray = field(default_factory=lambda: np.zeros(0))  # an unfinished window
    quietest_square: float = math.inf

    def add(self, frame: av.AudioFrame) -> None:
        if self.graph is None:
            self.graph, self.rate_hz = self._graph(frame), frame.sample_rate
        values = _as_float(frame)
        self.samples += len(values)
        self.square_sum += float(np.dot(values, values))
        if len(values):
            self.peak = max(self.peak, float(np.max(np.abs(values))))
        self._windows(values)
        self.graph.push(frame)
        self._drain()

    def result(self) -> Measurement:
        if self.graph is not None:
            self.graph.push(None)
            self._drain()
        integrated = float(self.r128.get("lavfi.r128.I", SILENT_LUFS))
        true_peak = float(self.r128.get("lavfi.r128.true_peak", 0.0))
        quietest = self.quietest_square if math.isfinite(self.quietest_square) else 0.0
        return Measurement(
            integrated_lufs=round(max(integrated, SILENT_LUFS), 2),
            true_peak_db=round(_db(true_peak), 2),
            sample_peak_db=round(_db(self.peak), 2),
            rms_db=round(
                _db(math.sqrt(self.square_sum / self.samples)) if self.samples else FLOOR_DB, 2
            ),
            noise_floor_db=round(_db(math.sqrt(quietest)), 2),
            duration_s=round(self.samples / self.rate_hz, 3) if self.rate_hz else 0.0,
        )

    def _windows(self, values: np.ndarray) -> None:
        size = round(NOISE_WINDOW_S * (self.rate_hz or 1))
        pending = np.concatenate([self.window, values])
        whole = len(pending) // size * size
        if whole:
            squares = np.mean(np.square(pending[:whole].reshape(-1, size)), axis=1)
            self.quietest_square = min(self.quietest_square, float(np.min(squares)))
        self.window = pending[whole:]

    @staticmethod
    def _graph(like: av.AudioFrame) -> av.filter.Graph:
        graph = av.filter.Graph()
        source = graph.add_abuffer(
            format=like.format.name,
            sample_rate=like.sample_rate,
            layout=like.layout.name,
            time_base=like.time_base,
        )
        meter = graph.add("ebur128", "metadata=1:peak=true")
        sink = graph.add("abuffersink")
        source.link_to(meter)
        meter.link_to(sink)
        graph.configure()
        return graph

    def _drain(self) -> None:
        assert self.graph is not None
        while True:
            try:
                frame = self.graph.pull()
            except (av.BlockingIOError, av.EOFError):
                return
            if isinstance(frame, av.AudioFrame) and frame.metadata:
                self.r128.update(frame.metadata)


def measure(frames: Iterable[av.AudioFrame]) -> Measurement:
    """The measurement of the frames, read once."""
    meter = Meter()
    for frame in frames:
        meter.add(frame)
    return meter.result()


def _as_float(frame: av.AudioFrame) -> np.ndarray:
    values: np.ndarray = frame.to_ndarray().reshape(-1)
    if values.dtype.kind == "i":
        full_scale = 2.0 ** (8 * values.dtype.itemsize - 1)
        return values.astype(np.float64) / full_scale
    return values.astype(np.float64)


def scaled(frames: Iterable[av.AudioFrame], gain_db: float) -> Iterator[av.AudioFrame]:
    """The frames with one gain applied, in their own sample format."""
    factor = 10 ** (gain_db / 20)
    for frame in frames:
        values: np.ndarray = frame.to_ndarray()
        if values.dtype.kind == "i":
            full_scale = 2.0 ** (8 * values.dtype.itemsize - 1)
            louder = np.clip(np.rint(values * factor), -full_scale, full_scale - 1)
        else:
            louder = values * factor
        out = av.AudioFrame.from_ndarray(
            louder.astype(values.dtype), format=frame.format.name, layout=frame.layout.name
        )
        out.sample_rate = frame.sample_rate
        yield out


@dataclass(frozen=True)
class LoudnessReport:
    """What a loudness pass did: its aim, the measurements before and after, the gain."""

    aim: Aim
    before: Measurement
    after: Measurement
    gain_db: float
    wanted_gain_db: float
    notes: list[str]

    def acx(self) -> dict[str, bool] | None:
        """For ``audiobook``: whether the output meets each ACX rule."""
        if self.aim is not AUDIOBOOK:
            return None
        low, high = ACX_RMS_DB
        return {
            "rms_ok": low <= self.after.rms_db <= high,
            "peak_ok": self.after.sample_peak_db <= ACX_PEAK_DB,
            "noise_floor_ok": self.after.noise_floor_db <= ACX_NOISE_FLOOR_DB,
        }

    def as_dict(self) -> dict[str, Any]:
        """What ``loudness.json`` says, as the job's record keeps it too."""
        return {
            "standard": self.aim.name,
            "target": {k: v for k, v in asdict(self.aim).items() if k != "name" and v is not None},
            "before": asdict(self.before),
            "after": asdict(self.after),
            "gain_db": self.gain_db,
            "gain_reduced_db": round(self.wanted_gain_db - self.gain_db, 2),
            "acx": self.acx(),
            "notes": self.notes,
        }

    def to_json(self) -> bytes:
        return json.dumps(self.as_dict(), indent=2).encode()


def planned_gain(aim: Aim, measured: Measurement, current_db: float = 0.0) -> tuple[float, float]:
    """For audio that measures ``measured`` with ``current_db`` of gain applied: the gain that
    reaches the aim, and the gain to apply, as much of it as keeps the true peak under the
    ceiling (less :data:`ENCODER_MARGIN_DB`). No change for a silent programme."""
    if measured.integrated_lufs <= SILENT_LUFS:
        return current_db, current_db
    if aim.rms_db is not None:
        error = aim.rms_db - measured.rms_db
    else:
        assert aim.integrated_lufs is not None
        error = aim.integrated_lufs - measured.integrated_lufs
    headroom = aim.true_peak_db - ENCODER_MARGIN_DB - measured.true_peak_db
    return round(current_db + error, 2), round(current_db + min(error, headroom), 2)


def normalise(
    frames: Callable[[], Iterable[av.AudioFrame]],
    output_format: str,
    target: Path,
    loudness: Loudness,
    heartbeat: Callable[[], None],
) -> LoudnessReport:
    """Measure ``frames()``, encode ``frames()`` again with the gain into ``target`` in
    ``output_format``, and measure what was encoded; ``heartbeat`` is called at every frame
    (it raises to stop). An encoder that moves the level (LAME's lowers it by about 0.4 dB) is
    answered with one more encoding, its gain corrected by what the encoded file measured."""
    aim = aim_of(loudness)

    def beating() -> Iterator[av.AudioFrame]:
        for frame in frames():
            heartbeat()
            yield frame

    before = measure(beating())
    wanted, gain = planned_gain(aim, before)
    encode_frames(scaled(beating(), gain), output_format, target)
    after = measure(file_frames(target, output_format))
    corrected_wanted, corrected = planned_gain(aim, after, gain)
    if abs(corrected - gain) > CORRECTION_DB:
        wanted, gain = corrected_wanted, corrected
        encode_frames(scaled(beating(), gain), output_format, target)
        after = measure(file_frames(target, output_format))
    return LoudnessReport(
        aim, before, after, gain, wanted, _notes(aim, before, after, wanted, gain)
    )


def file_frames(path: Path, output_format: str) -> Iterator[av.AudioFrame]:
    """The decoded frames of one audio file."""
    return joined_frames([path], Timeline.of(output_format, 0))


def _notes(
    aim: Aim, before: Measurement, after: Measurement, wanted: float, gain: float
) -> list[str]:
    notes = []
    if before.integrated_lufs <= SILENT_LUFS:
        notes.append("loudness: the audio is silent or nearly so: left at its level")
    elif gain < wanted:
        notes.append(
            f"loudness: {aim.name} asked for {wanted:+.1f} dB, which would clip (true peak "
            f"{before.true_peak_db + wanted:+.1f} dBTP over the {aim.true_peak_db:+.1f} dBTP "
            f"ceiling): gain reduced to {gain:+.1f} dB, the output measures "
            f"{after.integrated_lufs:.1f} LUFS and RMS {after.rms_db:.1f} dB"
        )
    if aim is AUDIOBOOK and after.noise_floor_db > ACX_NOISE_FLOOR_DB:
        notes.append(
            f"loudness: the noise floor is {after.noise_floor_db:.1f} dB, above ACX's "
            f"{ACX_NOISE_FLOOR_DB:.0f} dB: the source is too noisy for ACX, and a gain cannot fix it"
        )
    return notes
