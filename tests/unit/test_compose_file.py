"""The compose file describes the whole production stack."""

from __future__ import annotations

from pathlib import Path

import yaml

COMPOSE = Path(__file__).resolve().parents[2] / "docker-compose.yml"


def test_the_compose_file_has_every_service_of_the_stack() -> None:
    services = yaml.safe_load(COMPOSE.read_text())["services"]
    assert {
        "redis",
        "postgres",
        "minio",
        "createbucket",
        "migrate",
        "worker",
        "scheduler",
        "dashboard",
    } <= set(services)


def test_audiobatch_services_run_after_migrations_and_the_bucket() -> None:
    services = yaml.safe_load(COMPOSE.read_text())["services"]
    for name in ("worker", "scheduler", "dashboard"):
        depends = services[name]["depends_on"]
        assert depends["migrate"]["condition"] == "service_completed_successfully"
        assert depends["createbucket"]["condition"] == "service_completed_successfully"
    assert services["migrate"]["command"] == ["db", "upgrade"]


def test_the_published_dashboard_requires_a_token_and_answers_only_named_hosts() -> None:
    dashboard = yaml.safe_load(COMPOSE.read_text())["services"]["dashboard"]
    assert dashboard["ports"] and "0.0.0.0" in dashboard["command"]
    environment = dashboard["environment"]
    assert environment["AUDIOBATCH_DASHBOARD_TOKEN"].startswith("${AUDIOBATCH_DASHBOARD_TOKEN:?")
    assert "localhost" in environment["AUDIOBATCH_DASHBOARD_ALLOWED_HOSTS"]
    assert "*" not in environment["AUDIOBATCH_DASHBOARD_ALLOWED_HOSTS"]
    assert environment["AUDIOBATCH_DATABASE_URL"].startswith("postgresql")  # the shared ones too
