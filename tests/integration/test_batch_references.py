"""A batch named by the CLI, the dashboard or an action: an exact id, a unique id prefix or a
name, every character literal, on SQLite and PostgreSQL."""

from __future__ import annotations

import pytest

from audiobatch.db.models import Batch, BatchStatus
from audiobatch.db.reports import find_batch
from audiobatch.db.session import session_scope
from audiobatch.errors import NotFoundError


def test_a_reference_is_an_id_a_unique_prefix_or_a_name_with_no_wildcards(
    database_url: str,
) -> None:
    with session_scope(database_url) as session:
        for batch_id, name in [("ab12cd", "first"), ("ab12ef", "second"), ("x%y_z", "odd")]:
            session.add(
                Batch(
                    id=batch_id, name=name, status=BatchStatus.QUEUED,
                    manifest_sha256="0" * 64, source="-",
                )
            )  # fmt: skip
    with session_scope(database_url) as session:

        def found(ref: str) -> str:
            return find_batch(session, ref).id

        assert found("ab12cd") == "ab12cd" and found("ab12c") == "ab12cd"
        assert found("second") == "ab12ef"
        assert found("x%y") == found("x%y_") == "x%y_z"
        with pytest.raises(NotFoundError, match="ambiguous: give more characters"):
            found("ab12")
        for ref in ["%", "_", "ab1_", "ab12_d", "a%", "x_y", "x%y%", ""]:
            with pytest.raises(NotFoundError):
                found(ref)
