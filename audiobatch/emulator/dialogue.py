"""Request bodies of the dialogue endpoints, as the API validates them."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field

OUTPUT_FORMATS = [
    "mp3_22050_32",
    "mp3_24000_48",
    "mp3_44100_32",
    "mp3_44100_64",
    "mp3_44100_96",
    "mp3_44100_128",
    "mp3_44100_192",
    "pcm_8000",
    "pcm_16000",
    "pcm_22050",
    "pcm_24000",
    "pcm_32000",
    "pcm_44100",
    "pcm_48000",
    "ulaw_8000",
    "alaw_8000",
    "opus_48000_32",
    "opus_48000_64",
    "opus_48000_96",
    "opus_48000_128",
    "opus_48000_192",
]
OutputFormatName = Literal[
    "mp3_22050_32", "mp3_24000_48", "mp3_44100_32", "mp3_44100_64", "mp3_44100_96",
    "mp3_44100_128", "mp3_44100_192", "pcm_8000", "pcm_16000", "pcm_22050", "pcm_24000",
    "pcm_32000", "pcm_44100", "pcm_48000", "ulaw_8000", "alaw_8000", "opus_48000_32",
    "opus_48000_64", "opus_48000_96", "opus_48000_128", "opus_48000_192",
]  # fmt: skip

MAX_VOICES = 10
MAX_TEXT_CHARS = 5000


class DialogueInput(BaseModel):
    text: str
    voice_id: str


class Settings(BaseModel):
    stability: float | None = None


class DictionaryLocator(BaseModel):
    pronunciation_dictionary_id: str
    version_id: str | None = None


class DialogueBody(BaseModel):
    inputs: list[DialogueInput]
    model_id: str = "eleven_v3"
    language_code: str | None = None
    settings: Settings | None = None
    pronunciation_dictionary_locators: list[DictionaryLocator] | None = Field(
        default=None, max_length=3
    )
    seed: int | None = Field(default=None, ge=0, le=4_294_967_295)
    apply_text_normalization: Literal["auto", "on", "off"] = "auto"
