"""The CLI read at a glance, as a pipe sees it (80 columns): the ETA in the progress lines,
tables that never cut an id, ``--plain`` records, and ``download --final-only``."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.acceptance.cli import audiobatch, clean_environment, running_emulator

KEY = "glance-acceptance-key"
VOICE = "JBFqnCBsd6RMkjVDRZzb"
NAME = "a-batch-whose-name-is-sixty-four-characters-long-".ljust(64, "x")
LONG = "a-job-key-long-enough-that-a-table-of-eighty-columns-would-cut-it"
EPISODE = "an-episode-with-a-long-name-cut-into-parts-and-stitched"
BOX = set("─│┃━┏┓┗┛┡┩└┘╇╈┳┻")


@dataclass(frozen=True)
class Rendered:
    folder: Path
    env: dict[str, str]
    stdout: str
    batch_id: str
    job_keys: list[str]


def write_manifest(folder: Path) -> Path:
    lines = [f"batch: {NAME}", "defaults: {output_format: pcm_16000}", "jobs:"]
    for n in range(1, 4):
        lines += [f"  - id: {LONG}-{n}", "    kind: dialogue",
                  f"    inputs: [{{voice: {VOICE}, text: 'Line {n} of a short job.'}}]"]  # fmt: skip
    lines += [f"  - id: {EPISODE}", "    kind: dialogue", "    inputs:"]
    lines += [
        f"      - {{voice: {VOICE}, text: 'Turn {n} of the episode, long enough to need parts.'}}"
        for n in range(10)
    ]
    path = folder / "glance.yaml"
    path.write_text("\n".join(lines) + "\n")
    return path


@pytest.fixture(scope="module")
def rendered(tmp_path_factory: pytest.TempPathFactory) -> Rendered:
    """One batch rendered by `audiobatch run` in a pipe, a job at a time, a second a request."""
    folder = tmp_path_factory.mktemp("glance")
    manifest = write_manifest(folder)
    args = ("--api-key", KEY, "--concurrency", "1", "--latency-ms", "1000")
    with running_emulator(*args, cwd=folder) as emulator_url:
        env = clean_environment(
            ELEVENLABS_API_KEY=KEY,
            AUDIOBATCH_API_URL=emulator_url,
            AUDIOBATCH_HOME=str(folder / "home"),
            AUDIOBATCH_STORAGE_URL=f"file://{folder / 'renders'}",
            AUDIOBATCH_API_CONCURRENCY="1",
            AUDIOBATCH_PART_CHARS="150",
            COLUMNS="80",
        )
        run = audiobatch("run", str(manifest), cwd=folder, env=env, timeout_s=300)
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    report = json.loads(audiobatch("status", NAME, "--json", cwd=folder, env=env).stdout)
    keys = [job["id"] for job in report["jobs"]]
    assert any(key.startswith(f"{EPISODE}/part-") for key in keys)
    return Rendered(folder, env, run.stdout, report["id"], keys)


def shown(rendered: Rendered, *args: str) -> str:
    result = audiobatch(*args, cwd=rendered.folder, env=rendered.env)
    assert result.returncode == 0, result.stdout + result.stderr
    return result.stdout


def test_a_run_in_a_pipe_prints_its_eta_in_the_plain_progress_lines(rendered: Rendered) -> None:
    lines = [line for line in rendered.stdout.splitlines() if f"[{rendered.batch_id}]:" in line]
    assert any(re.search(r", ETA \d+m\d\ds \(", line) for line in lines), lines
    assert not any("\x1b" in line for line in lines)


def test_tables_at_80_columns_keep_batch_ids_and_job_keys_whole(rendered: Rendered) -> None:
    for args in (("status",), ("status", NAME), ("jobs", NAME)):
        assert "…" not in shown(rendered, *args)
    listed = shown(rendered, "jobs", NAME)
    for key in rendered.job_keys:
        assert re.search(rf"│ {re.escape(key)} +│", listed), (key, listed)
    assert re.search(rf"│ {re.escape(rendered.batch_id)} │", shown(rendered, "status"))


def plain_records(text: str) -> tuple[list[str], list[list[str]]]:
    header, *rows = text.splitlines()
    assert not BOX & set(text) and "\x1b" not in text
    return header.split("\t"), [row.split("\t") for row in rows]


def test_plain_tables_are_a_header_and_one_tab_separated_record_a_line(
    rendered: Rendered,
) -> None:
    report = json.loads(shown(rendered, "status", NAME, "--json"))
    header, rows = plain_records(shown(rendered, "jobs", NAME, "--plain"))
    assert header == ["job", "kind", "status", "parts", "cached", "attempts", "characters",
                      "music_minutes", "outputs / error"]  # fmt: skip
    assert [row[0] for row in rows] == rendered.job_keys
    assert all(len(row) == len(header) and row[2] == "succeeded" for row in rows)
    fields = {row[0]: dict(zip(header, row, strict=True)) for row in rows}
    parts = sum(key.startswith(f"{EPISODE}/part-") for key in rendered.job_keys)
    assert fields[EPISODE]["parts"] == f"{parts}/{parts}"
    assert fields[f"{LONG}-1"]["parts"] == "-"
    episodes_and_jobs = [record for key, record in fields.items() if "/part-" not in key]
    assert sum(int(record["characters"]) for record in episodes_and_jobs) == report["characters"]

    header, rows = plain_records(shown(rendered, "status", "--plain"))
    assert header[:3] == ["id", "name", "status"]
    assert [row[:3] for row in rows] == [[rendered.batch_id, NAME, "succeeded"]]
    assert dict(zip(header, rows[0], strict=True))["characters"] == str(report["characters"])

    workers = json.loads(shown(rendered, "workers", "--all", "--json"))
    header, rows = plain_records(shown(rendered, "workers", "--all", "--plain"))
    assert header[0] == "process"
    assert [row[0] for row in rows] == [worker["id"] for worker in workers]


def test_download_final_only_keeps_stitched_outputs_and_results_but_no_parts(
    rendered: Rendered,
) -> None:
    def files(dest: Path) -> set[str]:
        return {str(path.relative_to(dest)) for path in dest.rglob("*") if path.is_file()}

    everything, final = rendered.folder / "all", rendered.folder / "final"
    copied = shown(rendered, "download", NAME, str(everything))
    assert copied.endswith(f" files to {everything}\n")
    shown(rendered, "download", NAME, str(final), "--final-only")
    again = shown(rendered, "download", NAME, str(final), "--final-only")  # overwrites: says so
    assert re.search(rf"copied (\d+) files to {final}, replacing \1 already there\n$", again)
    assert any("/part-" in name for name in files(everything))
    assert not any("/part-" in name for name in files(final))
    assert {f"{EPISODE}/audio.pcm", f"{LONG}-1/audio.pcm", "results.json"} <= files(final)
    stored = rendered.folder / "renders" / NAME / rendered.batch_id / "results.json"
    assert (final / "results.json").read_bytes() == stored.read_bytes()
