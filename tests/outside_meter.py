"""An outside meter for the loudness tests: pyloudnorm's BS.1770 and scipy's resampling, none of
the code the product measures with. Files are decoded with PyAV."""

from __future__ import annotations

from pathlib import Path

import av
import numpy as np
import pyloudnorm
from scipy.signal import resample_poly

TRUE_PEAK_OVERSAMPLING = 4  # BS.1770's true peak: the peak of the signal oversampled 4 times


def decoded(path: Path) -> tuple[np.ndarray, int]:
    """The file's samples as float64 from -1 to 1, and its sample rate."""
    with av.open(str(path)) as container:
        frames = list(container.decode(audio=0))
    rate = frames[0].sample_rate
    values = np.concatenate([frame.to_ndarray().reshape(-1) for frame in frames])
    if values.dtype.kind == "i":
        return values.astype(np.float64) / 2 ** (8 * values.dtype.itemsize - 1), rate
    return values.astype(np.float64), rate


def integrated_lufs(path: Path) -> float:
    values, rate = decoded(path)
    return float(pyloudnorm.Meter(rate).integrated_loudness(values))


def true_peak_db(path: Path) -> float:
    values, _ = decoded(path)
    oversampled = resample_poly(values, TRUE_PEAK_OVERSAMPLING, 1)
    return float(20 * np.log10(np.max(np.abs(oversampled))))


def sample_peak_db(path: Path) -> float:
    values, _ = decoded(path)
    return float(20 * np.log10(np.max(np.abs(values))))


def rms_db(path: Path) -> float:
    values, _ = decoded(path)
    return float(10 * np.log10(np.mean(np.square(values))))


def noise_floor_db(path: Path, window_s: float = 0.5) -> float:
    """The RMS of the quietest stretch of ``window_s`` (stepping by a tenth of it), as ACX reads
    the noise floor; -inf for digital silence."""
    values, rate = decoded(path)
    size, step = round(window_s * rate), round(window_s * rate / 10)
    squares = np.concatenate([[0.0], np.cumsum(np.square(values))])
    starts = np.arange(0, len(values) - size + 1, step)
    quietest = float(np.min((squares[starts + size] - squares[starts]) / size))
    return float(10 * np.log10(quietest)) if quietest > 0 else float("-inf")
