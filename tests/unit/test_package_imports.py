"""``import audiobatch`` stays cheap: the Python API is loaded on first use, not at start-up."""

from __future__ import annotations

import subprocess
import sys


def loaded_after(statement: str) -> set[str]:
    shown = subprocess.run(
        [sys.executable, "-c", f"{statement}; import sys; print(*sorted(sys.modules))"],
        capture_output=True,
        text=True,
        check=True,
    )
    return set(shown.stdout.split())


def test_import_audiobatch_loads_no_other_module_of_it() -> None:
    assert {m for m in loaded_after("import audiobatch") if m.startswith("audiobatch")} == {
        "audiobatch"
    }


def test_the_command_line_does_not_load_the_client() -> None:
    assert "audiobatch.client" not in loaded_after("import audiobatch.cli.main")


def test_the_client_is_loaded_when_first_named() -> None:
    assert "audiobatch.client" in loaded_after("from audiobatch import Client")
