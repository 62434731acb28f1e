"""``defaults`` and ``voices``: resolved at load time, from the file and from the flags."""

from __future__ import annotations

from pathlib import Path

from audiobatch.manifest import DialogueJob, MusicJob, StemsJob, VoiceChangeJob
from tests.unit.manifest.helpers import GUEST, HOST, load_one, problems, write

MIXED = f"""
batch: mixed
defaults:
  timestamps: true
  stem_variation_id: two_stems_v1
  output_format: pcm_16000
voices:
  host: {HOST}
jobs:
  - id: talk
    kind: dialogue
    inputs: [{{voice: host, text: Hi}}]
  - id: quiet
    kind: dialogue
    timestamps: false
    output_format: ulaw_8000
    inputs: [{{voice: host, text: Hi}}]
  - id: split
    kind: stems
    source: {{from: talk}}
  - id: plan
    kind: music_plan
    prompt: jingle
"""


def test_defaults_apply_only_where_the_kind_has_the_field_and_the_job_is_silent(
    tmp_path: Path,
) -> None:
    manifest = load_one(write(tmp_path, "m.yaml", MIXED))
    talk, quiet, split = (manifest.job(i) for i in ("talk", "quiet", "split"))
    assert isinstance(talk, DialogueJob) and talk.timestamps and talk.output_format == "pcm_16000"
    assert isinstance(quiet, DialogueJob) and not quiet.timestamps
    assert quiet.output_format == "ulaw_8000"
    assert isinstance(split, StemsJob) and split.stem_variation_id == "two_stems_v1"
    assert split.output_format == "pcm_16000"
    assert "timestamps" not in split.model_dump()  # a field stems do not have is not forced on them


def test_defaults_and_voices_are_resolved_and_not_kept(tmp_path: Path) -> None:
    dumped = load_one(write(tmp_path, "m.yaml", MIXED)).model_dump()
    assert set(dumped) == {
        "batch",
        "jobs",
        "source",
        "sha256",
        "source_roots",
        "tags",
        "priority",
        "notify",
        "account",
    }


def test_a_default_no_kind_has_is_an_error_at_its_line(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "m.yaml",
        MIXED.replace("  timestamps: true\n", "  timestamps: true\n  colour: red\n  id: x\n"),
    )
    found = problems([path])
    assert [(p.line, p.field, p.message) for p in found] == [
        (4, "defaults.colour", "unknown field: no job kind has it"),
        (5, "defaults.id", "id cannot have a default"),
    ]


def test_a_default_that_a_kind_refuses_is_reported_once_at_the_default(tmp_path: Path) -> None:
    path = write(tmp_path, "m.yaml", MIXED.replace("pcm_16000", "mp3_48000_192"))
    dialogue, stems = problems([path])
    assert (
        (dialogue.line, dialogue.field)
        == (stems.line, stems.field)
        == (5, "defaults.output_format")
    )
    assert dialogue.message.startswith("unknown output format 'mp3_48000_192' for dialogue jobs")
    assert dialogue.message.endswith("(set by defaults, for jobs[talk])")  # quiet sets its own
    assert stems.message.startswith("unknown output format 'mp3_48000_192' for stems jobs")
    assert stems.message.endswith("(set by defaults, for jobs[split])")


def test_flag_defaults_override_the_file_and_name_jsonl_batches(tmp_path: Path) -> None:
    manifest = load_one(
        write(tmp_path, "m.yaml", MIXED), defaults={"output_format": "opus_48000_64"}
    )
    talk = manifest.job("talk")
    assert isinstance(talk, DialogueJob) and talk.output_format == "opus_48000_64"


def test_bad_flags_are_reported_against_the_flags(tmp_path: Path) -> None:
    path = write(tmp_path, "m.yaml", MIXED)
    found = problems([path], defaults={"colour": 1}, voices={"bad alias": HOST, "anna": "short"})
    assert [(p.file, p.line, p.field) for p in found] == [
        ("--voices", None, "voices.bad alias"),
        ("--voices", None, "voices.anna"),
        ("--set", None, "colour"),
    ]


def test_flag_voices_resolve_aliases_and_override_the_files(tmp_path: Path) -> None:
    manifest = load_one(write(tmp_path, "m.yaml", MIXED), voices={"host": GUEST})
    talk = manifest.job("talk")
    assert isinstance(talk, DialogueJob) and talk.inputs[0].voice_id == GUEST


def test_a_voice_change_voice_is_resolved_like_a_dialogue_voice(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "m.yaml",
        f"""
        batch: b
        voices: {{guest: {GUEST}}}
        jobs:
          - {{id: talk, kind: dialogue, inputs: [{{voice: {HOST}, text: Hi}}]}}
          - {{id: redub, kind: voice_change, voice: guest, source: {{from: talk}}}}
          - {{id: bad, kind: voice_change, voice: nobody, source: {{from: talk}}}}
        """,
    )
    found = problems([path])
    assert [(p.line, p.field, p.message) for p in found] == [
        (6, "jobs[bad].voice", "unknown voice alias 'nobody'; aliases defined: guest")
    ]
    good = load_one(write(tmp_path, "good.yaml", path.read_text().replace("nobody", "guest")))
    redub = good.job("redub")
    assert isinstance(redub, VoiceChangeJob) and redub.voice_id == GUEST


def test_voice_aliases_must_be_simple_names_of_raw_ids(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "m.yaml",
        f"""
        batch: b
        voices:
          "two words": {HOST}
          host: not-a-voice-id
        jobs:
          - {{id: p, kind: music_plan, prompt: x}}
        """,
    )
    assert [(p.line, p.field) for p in problems([path])] == [
        (3, "voices.two words"),
        (4, "voices.host"),
    ]


def test_a_default_may_be_refused_by_one_kind_rule_but_not_another(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "m.yaml",
        """
        batch: b
        defaults: {music_length_ms: 30000}
        jobs:
          - {id: p, kind: music_plan, prompt: x}
          - {id: m, kind: music, prompt: y}
        """,
    )
    song = load_one(path).job("m")
    assert isinstance(song, MusicJob) and song.music_length_ms == 30000
