"""SECURITY.md tells who can do what, what the dashboard trusts, and how to report a problem."""

from __future__ import annotations

from pathlib import Path

POLICY = Path(__file__).resolve().parents[2] / "SECURITY.md"


def test_the_policy_names_every_role_what_the_dashboard_trusts_and_where_to_report() -> None:
    text = POLICY.read_text()
    for role in ("viewer", "operator", "worker host", "holder of the API key"):
        assert f"**{role}**" in text
    for trusted in ("AUDIOBATCH_DASHBOARD_TOKEN", "127.0.0.1", "Host", "CSRF", "session"):
        assert trusted in text
    for limit in ("AUDIOBATCH_SOURCE_ROOTS", "ZIP bundle", "storage bucket", "size limits"):
        assert limit in text
    assert "private security advisory" in text
