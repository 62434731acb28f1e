"""Request parameters shared by the endpoints: the key header and the output_format enum."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import Header, Query

OutputFormatName = Literal[
    "mp3_22050_32", "mp3_24000_48", "mp3_44100_32", "mp3_44100_64", "mp3_44100_96",
    "mp3_44100_128", "mp3_44100_192", "pcm_8000", "pcm_16000", "pcm_22050", "pcm_24000",
    "pcm_32000", "pcm_44100", "pcm_48000", "ulaw_8000", "alaw_8000", "opus_48000_32",
    "opus_48000_64", "opus_48000_96", "opus_48000_128", "opus_48000_192",
]  # fmt: skip
MusicFormatName = Literal[
    OutputFormatName, "mp3_48000_128", "mp3_48000_192", "mp3_48000_240", "mp3_48000_320", "auto"
]

Key = Annotated[str | None, Header(alias="xi-api-key")]
Format = Annotated[OutputFormatName, Query()]
MusicFormat = Annotated[MusicFormatName, Query()]
