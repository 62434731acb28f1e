"""Prometheus metrics at ``/metrics``, derived from SQL at each scrape.

Workers run as many processes on many machines, and restart; counters kept in their memory would
need a multiprocess directory per machine and would reset with every restart. Every API call is
already an ``attempts`` row (status code, outcome, latency, characters), and the database keeps
their sums as they are written (:mod:`audiobatch.db.tallies`), so a scrape reads those: the same
figures whichever dashboard process answers, across every worker, surviving restarts, in the same
time however long the history. The counters only fall when batches are deleted, which Prometheus reads as a reset.
"""

from __future__ import annotations

from collections.abc import Iterator

from fastapi import APIRouter
from fastapi.responses import Response
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest
from prometheus_client.core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    HistogramMetricFamily,
    Metric,
)
from prometheus_client.registry import Collector

from audiobatch.dashboard.state import StateDep
from audiobatch.db.activity import attempt_totals, status_totals
from audiobatch.db.models import BatchStatus, JobStatus
from audiobatch.db.session import session_scope
from audiobatch.db.tallies import LATENCY_BOUNDS_MS, total_tallies

router = APIRouter(tags=["system"])


class SqlCollector(Collector):
    """Reads the figures from the database each time Prometheus collects."""

    def __init__(self, database_url: str) -> None:
        self._url = database_url

    def collect(self) -> Iterator[Metric]:
        with session_scope(self._url) as session:
            kept = total_tallies(session)
            jobs, batches = status_totals(session, kept)
        totals = attempt_totals(kept)
        job_gauge = GaugeMetricFamily("audiobatch_jobs", "Jobs by status.", labels=["status"])
        for status in JobStatus:
            job_gauge.add_metric([status.value], jobs.get(status, 0))
        yield job_gauge
        batch_gauge = GaugeMetricFamily(
            "audiobatch_batches", "Batches by status.", labels=["status"]
        )
        for batch_status in BatchStatus:
            batch_gauge.add_metric([batch_status.value], batches.get(batch_status, 0))
        yield batch_gauge
        attempts = CounterMetricFamily(
            "audiobatch_api_requests", "API calls by outcome.", labels=["outcome"]
        )
        for outcome, count in sorted(totals.by_outcome.items()):
            attempts.add_metric([outcome], count)
        yield attempts
        yield CounterMetricFamily(
            "audiobatch_api_throttled", "API calls answered 429.", value=totals.throttled
        )
        yield CounterMetricFamily(
            "audiobatch_retries", "API calls whose job was retried.",
            value=totals.by_outcome.get("retry", 0),
        )  # fmt: skip
        yield CounterMetricFamily(
            "audiobatch_characters", "Characters the API charged.", value=totals.characters
        )
        buckets = [(str(bound / 1000), totals.latency_le_ms[bound]) for bound in LATENCY_BOUNDS_MS]
        buckets.append(("+Inf", totals.latency_count))
        yield HistogramMetricFamily(
            "audiobatch_api_latency_seconds",
            "Time of each API call, from request to the last byte.",
            buckets=buckets,
            sum_value=totals.latency_sum_ms / 1000,
        )


def registry_for(database_url: str) -> CollectorRegistry:
    registry = CollectorRegistry(auto_describe=False)
    registry.register(SqlCollector(database_url))
    return registry


@router.get("/metrics", response_class=Response)
def metrics(state: StateDep) -> Response:
    """Prometheus text format: jobs and batches by status, API calls by outcome, 429s, retries,
    characters, and the API latency histogram."""
    return Response(generate_latest(state.registry), media_type=CONTENT_TYPE_LATEST)
