"""Endpoints that take audio in: stem separation (answers a ZIP) and speech-to-speech.

Uploaded audio is decoded for real: what is not audio gets 400 ``invalid_audio``; the answers are
derived from it (stems are frequency bands of the song, a voice change re-voices its loudness
contour), so different uploads give different outputs and the same upload the same bytes.
"""

from __future__ import annotations

import hashlib
import io
import zipfile
from typing import Annotated

import av
import numpy as np
from fastapi import FastAPI, File, Form, UploadFile
from fastapi.responses import JSONResponse, Response

from audiobatch.emulator.audio import OutputFormat, encode, voice_pitch_hz
from audiobatch.emulator.cache import RenderCache
from audiobatch.emulator.dialogue import is_voice_id, voice_not_found
from audiobatch.emulator.errors import api_error
from audiobatch.emulator.gate import Gate, split
from audiobatch.emulator.params import Format, Key

MAX_UPLOAD_BYTES = 50 * 1024 * 1024
MAX_STS_SECONDS = 300
STEMS = {
    "two_stems_v1": ("vocals", "instrumental"),
    "six_stems_v1": ("vocals", "drums", "bass", "guitar", "piano", "other"),
}
# the frequency band each stem keeps, in Hz
BANDS = {
    "vocals": (300, 3400), "instrumental": (0, 300), "drums": (3400, 24000), "bass": (0, 250),
    "guitar": (250, 1200), "piano": (1200, 3400), "other": (3400, 24000),
}  # fmt: skip


class UnusableAudioError(Exception):
    """An upload the API refuses: ``code`` is its error code."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code


def decode(data: bytes, rate_hz: int) -> np.ndarray:
    """The upload as mono float32 at ``rate_hz``."""
    try:
        with av.open(io.BytesIO(data), mode="r") as container:
            if not container.streams.audio:
                raise UnusableAudioError(
                    "invalid_audio", "The uploaded file holds no audio stream."
                )
            resampler = av.AudioResampler(format="flt", layout="mono", rate=rate_hz)
            parts = [
                frame.to_ndarray().reshape(-1)
                for decoded in container.decode(audio=0)
                for frame in resampler.resample(decoded)
            ]
    except av.error.FFmpegError as exc:
        raise UnusableAudioError(
            "invalid_audio", f"The uploaded file is not audio we can read: {exc}"
        ) from exc
    if not parts:
        raise UnusableAudioError("invalid_audio", "The uploaded audio holds no samples.")
    return np.concatenate(parts).astype(np.float32)


def band(samples: np.ndarray, rate_hz: int, low_hz: float, high_hz: float) -> np.ndarray:
    spectrum = np.fft.rfft(samples)
    freqs = np.fft.rfftfreq(len(samples), 1 / rate_hz)
    spectrum[(freqs < low_hz) | (freqs >= high_hz)] = 0
    return np.asarray(np.fft.irfft(spectrum, len(samples)), dtype=np.float32)


def stems_zip(data: bytes, variation: str, fmt: OutputFormat) -> bytes:
    samples = decode(data, fmt.rate_hz)
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as archive:
        for stem in STEMS[variation]:
            low, high = BANDS[stem]
            info = zipfile.ZipInfo(f"{stem}.{fmt.codec}", date_time=(2024, 1, 1, 0, 0, 0))
            archive.writestr(info, encode(band(samples, fmt.rate_hz, low, high), fmt))
    return out.getvalue()


def revoice(data: bytes, voice_id: str, fmt: OutputFormat) -> tuple[bytes, float]:
    samples = decode(data, fmt.rate_hz)
    duration_s = len(samples) / fmt.rate_hz
    if duration_s > MAX_STS_SECONDS:
        raise UnusableAudioError(
            "audio_too_long", f"The audio is {duration_s:.0f} s long; the limit is 5 minutes."
        )
    window = max(1, fmt.rate_hz // 50)
    contour = np.convolve(np.abs(samples), np.ones(window) / window, mode="same")
    t = np.arange(len(samples), dtype=np.float32) / fmt.rate_hz
    carrier = np.sin(2 * np.pi * voice_pitch_hz(voice_id) * t) + 0.4 * np.sin(
        4 * np.pi * voice_pitch_hz(voice_id) * t
    )
    voiced = np.clip(contour * carrier * 3.0, -1.0, 1.0).astype(np.float32)
    return encode(voiced, fmt), duration_s


def register(app: FastAPI, gate: Gate, cache: RenderCache) -> None:
    @app.post("/v1/music/stem-separation")
    async def stem_separation(
        file: Annotated[UploadFile, File()],
        stem_variation_id: Annotated[str, Form()] = "six_stems_v1",
        sign_with_c2pa: Annotated[bool, Form()] = False,
        xi_api_key: Key = None,
        output_format: Format = "mp3_44100_128",
    ) -> Response:
        data = await file.read(MAX_UPLOAD_BYTES + 1)

        def check() -> JSONResponse | None:
            if stem_variation_id not in STEMS:
                return api_error(
                    400, "invalid_parameters", f"Unknown stem_variation_id {stem_variation_id!r}."
                )
            return too_large(data)

        admission = gate.enter(xi_api_key, "music", check)
        if isinstance(admission, JSONResponse):
            return admission
        fmt = OutputFormat.parse(output_format)
        digest = cache.digest(
            "stems", fmt.name, stem_variation_id, hashlib.sha256(data).hexdigest()
        )
        try:
            archive = await gate.produce(
                admission, cache.get(digest, lambda: stems_zip(data, stem_variation_id, fmt))
            )
        except UnusableAudioError as exc:
            return gate.refuse(api_error(400, exc.code, str(exc)))
        headers = {"content-disposition": "attachment; filename=stems.zip"}
        return gate.respond(
            admission, "/v1/music/stem-separation", split(archive), "application/zip",
            audio=archive, character_cost=0, stream=False, extra_headers=headers,
        )  # fmt: skip

    @app.post("/v1/speech-to-speech/{voice_id}")
    @app.post("/v1/voice-changer/{voice_id}")  # the same endpoint, under the name newer SDKs use
    async def speech_to_speech(
        voice_id: str,
        audio: Annotated[UploadFile, File()],
        model_id: Annotated[str, Form()] = "eleven_english_sts_v2",
        voice_settings: Annotated[str | None, Form()] = None,
        seed: Annotated[int | None, Form()] = None,
        remove_background_noise: Annotated[bool, Form()] = False,
        file_format: Annotated[str | None, Form()] = None,
        xi_api_key: Key = None,
        output_format: Format = "mp3_44100_128",
    ) -> Response:
        data = await audio.read(MAX_UPLOAD_BYTES + 1)

        def check() -> JSONResponse | None:
            return too_large(data) if is_voice_id(voice_id) else voice_not_found(voice_id)

        admission = gate.enter(xi_api_key, "general", check)
        if isinstance(admission, JSONResponse):
            return admission
        fmt = OutputFormat.parse(output_format)
        upload = hashlib.sha256(data).hexdigest()
        digest = cache.digest("sts", fmt.name, voice_id, model_id, voice_settings, seed, upload)
        try:
            voiced, duration_s = await gate.produce(
                admission, cache.get(digest, lambda: revoice(data, voice_id, fmt))
            )
        except UnusableAudioError as exc:
            return gate.refuse(api_error(400, exc.code, str(exc)))
        cost = round(duration_s / 60 * 1000)  # billed at 1,000 characters a minute
        return gate.respond(
            admission, f"/v1/speech-to-speech/{voice_id}", split(voiced), fmt.content_type,
            audio=voiced, character_cost=cost, stream=False,
        )  # fmt: skip


def too_large(data: bytes) -> JSONResponse | None:
    if len(data) > MAX_UPLOAD_BYTES:
        return api_error(400, "request_too_large", "The upload is larger than 50 MB.")
    return None
