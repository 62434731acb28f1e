"""``--voices``: files of aliases and ``alias=id`` flags, in the order given."""

from __future__ import annotations

from pathlib import Path

import pytest

from audiobatch.cli.context import read_voices
from audiobatch.errors import ConfigError

HOST, GUEST = "JBFqnCBsd6RMkjVDRZzb", "Aw4FAjKCGjjNkVhN1Xmq"


def test_voices_come_from_files_and_inline_flags_the_later_winning(tmp_path: Path) -> None:
    (tmp_path / "voices.yaml").write_text(f"host: {HOST}\nguest: {HOST}\n")
    flags = [str(tmp_path / "voices.yaml"), f"guest={GUEST}", "narrator = " + HOST]
    assert read_voices(flags) == {"host": HOST, "guest": GUEST, "narrator": HOST}
    assert read_voices([]) is None


def test_a_voices_flag_that_is_neither_a_file_nor_alias_id_says_so(tmp_path: Path) -> None:
    missing = str(tmp_path / "missing.yaml")
    with pytest.raises(ConfigError) as refused:
        read_voices([missing])
    assert str(refused.value) == f"--voices {missing!r}: no such file (or give alias=voice_id)"
    with pytest.raises(ConfigError, match="'host': no such file \\(or give alias=voice_id\\)"):
        read_voices(["host"])  # the voice id forgotten
    (tmp_path / "folder").mkdir()
    with pytest.raises(ConfigError, match="cannot read"):
        read_voices([str(tmp_path / "folder")])
    with pytest.raises(ConfigError, match="alias=voice_id"):
        read_voices([f"={HOST}"])
    (tmp_path / "list.yaml").write_text("- host\n")
    with pytest.raises(ConfigError, match="mapping of alias to voice id"):
        read_voices([str(tmp_path / "list.yaml")])
