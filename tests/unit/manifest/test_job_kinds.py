"""Every job kind parses from YAML and JSON, keeps the API's field names, and survives the database."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml
from pydantic import TypeAdapter

from audiobatch.manifest import (
    DialogueJob,
    JobOutput,
    JobSpec,
    LocalFile,
    Manifest,
    MusicJob,
    MusicPlanJob,
    MusicPrompt,
    S3Object,
    StemsJob,
    VoiceChangeJob,
)
from tests.unit.manifest.helpers import GUEST, HOST, load_one, write

EVERY_KIND = f"""
batch: everything
voices:
  host: {HOST}
jobs:
  - id: talk
    kind: dialogue
    stream: true
    timestamps: true
    model_id: eleven_v3
    seed: 4294967295
    language_code: en
    settings: {{stability: 0.5}}
    pronunciation_dictionary_locators:
      - {{pronunciation_dictionary_id: dict1, version_id: v1}}
    apply_text_normalization: on
    inputs:
      - {{voice: host, text: "Hello there."}}
      - {{voice: {GUEST}, text: "Hi."}}
  - id: theme
    kind: music
    prompt: Warm lo-fi intro, soft piano, 90 bpm
    music_length_ms: 10000
    force_instrumental: true
    output_format: mp3_48000_192
    model_id: music_v1
    stream: true
  - id: plan
    kind: music_plan
    prompt: A short jingle
    music_length_ms: 15000
  - id: song
    kind: music
    composition_plan: {{from: plan}}
    seed: 7
    detailed: true
    respect_sections_durations: true
    store_for_inpainting: true
  - id: written
    kind: music
    composition_plan:
      positive_global_styles: [jazz]
      negative_global_styles: [metal]
      sections:
        - section_name: Intro
          positive_local_styles: [piano]
          negative_local_styles: []
          duration_ms: 5000
          lines: ["la la la"]
  - id: split
    kind: stems
    source: {{from: theme}}
    stem_variation_id: two_stems_v1
    output_format: pcm_44100
  - id: redub
    kind: voice_change
    voice: host
    source: {{from: talk}}
    voice_settings: {{stability: 0.3, similarity_boost: 0.8, use_speaker_boost: true}}
    remove_background_noise: true
    file_format: other
    seed: 3
  - id: local
    kind: voice_change
    voice: {HOST}
    source: takes/take1.wav
  - id: remote
    kind: stems
    source: s3://bucket-name/songs/a.mp3
"""


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    (tmp_path / "takes").mkdir()
    (tmp_path / "takes" / "take1.wav").write_bytes(b"RIFF")
    return tmp_path


@pytest.fixture
def from_yaml(folder: Path) -> Manifest:
    return load_one(write(folder, "every.yaml", EVERY_KIND))


def test_every_kind_parses_from_yaml_into_its_own_model(from_yaml: Manifest) -> None:
    assert from_yaml.batch == "everything"
    assert [type(job) for job in from_yaml.jobs] == [
        DialogueJob,
        MusicJob,
        MusicPlanJob,
        MusicJob,
        MusicJob,
        StemsJob,
        VoiceChangeJob,
        VoiceChangeJob,
        StemsJob,
    ]


def test_a_json_manifest_gives_the_same_jobs_and_digest_as_the_yaml(
    folder: Path, from_yaml: Manifest
) -> None:
    document = yaml.safe_load(EVERY_KIND)
    from_json = load_one(write(folder, "every.json", json.dumps(document, indent=2)))
    assert from_json.jobs == from_yaml.jobs
    assert from_json.sha256 == from_yaml.sha256
    assert from_json.source.endswith("every.json")


def test_dialogue_fields_keep_the_api_names_and_voices_become_ids(from_yaml: Manifest) -> None:
    talk = from_yaml.job("talk")
    assert isinstance(talk, DialogueJob)
    assert [(line.voice_id, line.text) for line in talk.inputs] == [
        (HOST, "Hello there."),
        (GUEST, "Hi."),
    ]
    assert talk.stream and talk.timestamps
    assert talk.apply_text_normalization == "on"  # a bare YAML `on` is a boolean
    assert talk.settings is not None and talk.settings.stability == 0.5
    assert talk.output_format == "mp3_44100_128"
    request = talk.model_dump(
        include={"model_id", "seed", "language_code", "pronunciation_dictionary_locators"}
    )
    assert request == {
        "model_id": "eleven_v3",
        "seed": 4294967295,
        "language_code": "en",
        "pronunciation_dictionary_locators": [
            {"pronunciation_dictionary_id": "dict1", "version_id": "v1"}
        ],
    }


def test_music_takes_a_prompt_a_written_plan_or_a_plan_job(from_yaml: Manifest) -> None:
    theme, song, written = (from_yaml.job(i) for i in ("theme", "song", "written"))
    assert isinstance(theme, MusicJob) and theme.prompt and theme.music_length_ms == 10000
    assert isinstance(song, MusicJob) and isinstance(song.composition_plan, JobOutput)
    assert song.composition_plan.from_ == "plan" and song.detailed
    assert isinstance(written, MusicJob) and isinstance(written.composition_plan, MusicPrompt)
    assert written.composition_plan.sections[0].duration_ms == 5000


def test_sources_are_a_job_an_absolute_local_file_or_an_s3_object(
    folder: Path, from_yaml: Manifest
) -> None:
    split, redub, local, remote = (from_yaml.job(i) for i in ("split", "redub", "local", "remote"))
    assert isinstance(split, StemsJob) and split.source == JobOutput.model_validate(
        {"from": "theme"}
    )
    assert isinstance(redub, VoiceChangeJob) and redub.voice_id == HOST
    assert isinstance(local, VoiceChangeJob) and isinstance(local.source, LocalFile)
    assert local.source.path == folder / "takes" / "take1.wav"  # read from the manifest's folder
    assert local.source.path.is_absolute()
    assert isinstance(remote, StemsJob) and isinstance(remote.source, S3Object)
    assert (remote.source.bucket, remote.source.key) == ("bucket-name", "songs/a.mp3")
    assert remote.stem_variation_id == "six_stems_v1"


def test_each_job_lists_the_jobs_it_reads_from(from_yaml: Manifest) -> None:
    assert {job.id: job.dependencies() for job in from_yaml.jobs} == {
        "talk": [],
        "theme": [],
        "plan": [],
        "song": ["plan"],
        "written": [],
        "split": ["theme"],
        "redub": ["talk"],
        "local": [],
        "remote": [],
    }


def test_every_kind_survives_the_json_round_trip_through_the_database(from_yaml: Manifest) -> None:
    adapter: TypeAdapter[JobSpec] = TypeAdapter(JobSpec)
    for job in from_yaml.jobs:
        stored = json.loads(json.dumps(job.model_dump(mode="json", by_alias=True)))
        again = adapter.validate_python(stored)
        assert type(again) is type(job)
        assert again == job
        assert again.model_dump(mode="json", by_alias=True) == stored


def test_stored_specs_read_like_the_manifest(from_yaml: Manifest) -> None:
    stored = {job.id: job.model_dump(mode="json", by_alias=True) for job in from_yaml.jobs}
    assert stored["split"]["source"] == {"from": "theme"}
    assert stored["song"]["composition_plan"] == {"from": "plan"}
    assert stored["remote"]["source"] == "s3://bucket-name/songs/a.mp3"
    assert stored["local"]["source"].endswith("/takes/take1.wav")
    assert stored["talk"]["inputs"][0] == {"voice": HOST, "text": "Hello there."}


def test_a_whole_manifest_survives_the_json_round_trip(from_yaml: Manifest) -> None:
    again = Manifest.model_validate_json(from_yaml.model_dump_json(by_alias=True))
    assert again == from_yaml


def test_a_stored_local_source_is_not_looked_for_again_when_read_back(
    folder: Path, from_yaml: Manifest
) -> None:
    local = from_yaml.job("local")
    stored = local.model_dump(mode="json", by_alias=True)
    (folder / "takes" / "take1.wav").unlink()
    assert TypeAdapter(JobSpec).validate_python(stored) == local


def test_the_digest_ignores_how_the_manifest_was_written(folder: Path) -> None:
    with_alias = write(
        folder,
        "a.yaml",
        f"""
        batch: same
        voices: {{host: {HOST}}}
        defaults: {{output_format: pcm_24000}}
        jobs:
          - {{id: one, kind: dialogue, inputs: [{{voice: host, text: Hi}}]}}
        """,
    )
    with_ids = write(
        folder,
        "b.json",
        json.dumps(
            {
                "batch": "same",
                "jobs": [
                    {
                        "kind": "dialogue",
                        "id": "one",
                        "output_format": "pcm_24000",
                        "inputs": [{"text": "Hi", "voice": HOST}],
                    }
                ],
            }
        ),
    )
    changed = write(folder, "c.yaml", with_alias.read_text().replace("Hi", "Hello"))
    first, second, third = (load_one(path) for path in (with_alias, with_ids, changed))
    assert first.sha256 == second.sha256
    assert third.sha256 != first.sha256
