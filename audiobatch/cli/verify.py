"""``audiobatch verify BATCH``: every output of a batch read back from the store and compared with
its record; missing, changed and stray objects reported."""

from __future__ import annotations

from dataclasses import asdict
from typing import Annotated

import typer
from rich.console import Console
from rich.markup import escape

from audiobatch.cli import views
from audiobatch.cli.context import JsonFlag, load_settings, ready_database
from audiobatch.db.outputs import recorded_outputs
from audiobatch.db.reports import find_batch, results_key
from audiobatch.db.session import session_scope
from audiobatch.storage import open_storage
from audiobatch.storage.audit import Audit, audit


def verify(
    batch: Annotated[str, typer.Argument(help="Batch id, id prefix or name.")],
    json_: JsonFlag = False,
) -> int:
    """Read back every output of a batch and compare it with its record (size, sha256); report
    missing, changed and stray objects. Exit 0 when clean, 1 otherwise."""
    settings = load_settings()
    storage = open_storage(settings.storage_url)
    with session_scope(ready_database(settings)) as session:
        found = find_batch(session, batch)
        name, batch_id = found.name, found.id
        records = recorded_outputs(session, batch_id)
    folder = f"{name}/{batch_id}"
    result = audit(storage, folder, records, expected=[results_key(name, batch_id)])
    if json_:
        views.print_json({"batch": batch_id, "name": name, "clean": result.clean, **asdict(result)})
    else:
        _print(Console(), f"{name} [{batch_id}]", result)
    return 0 if result.clean else 1


def _print(out: Console, title: str, result: Audit) -> None:
    for key in result.missing:
        out.print(f"[red]missing[/]  {escape(key)}", highlight=False)
    for changed in result.changed:
        out.print(
            f"[red]changed[/]  {escape(changed.key)}: stored {changed.bytes} bytes "
            f"(sha256 {changed.sha256[:12]}), recorded {changed.recorded_bytes} bytes "
            f"(sha256 {changed.recorded_sha256[:12]})",
            highlight=False,
        )
    for key in result.stray:
        out.print(f"[yellow]stray[/]    {escape(key)}", highlight=False)
    verdict = "[green]clean[/]" if result.clean else "[red]not clean[/]"
    out.print(f"{escape(title)}: {result.checked} outputs checked, {verdict}", highlight=False)
