"""Query parameters shared by the JSON API and the pages: filters and paging, validated by
FastAPI (a bad value answers 422 with a message). An empty field, as an HTML form sends it,
counts as absent."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import Depends, Path, Query
from pydantic import AfterValidator, BeforeValidator

from audiobatch.db.listings import BatchFilter, JobFilter
from audiobatch.db.models import BatchStatus, JobStatus
from audiobatch.manifest.schema import unknown_kinds

MAX_PER_PAGE = 500
MAX_PAGE = 1_000_000  # far past any listing; keeps the row offset within SQL's integers
MAX_ID = 2**63 - 1  # the largest SQL BIGINT: a larger id is refused (422) before SQL sees it


def blank_is_none(value: Any) -> Any:
    return None if value == "" else value


def _without_blanks(values: Any) -> Any:
    return [v for v in values if v != ""] if isinstance(values, list) else values


def _utc(value: datetime | None) -> datetime | None:
    """A time without a zone is read as UTC."""
    if value is None or value.tzinfo is not None:
        return value
    return value.replace(tzinfo=UTC)


def _known_kinds(values: list[str]) -> list[str]:
    wrong = unknown_kinds(values)
    if wrong:
        raise ValueError(wrong)
    return values


Text = Annotated[str | None, BeforeValidator(blank_is_none)]
Time = Annotated[datetime | None, BeforeValidator(blank_is_none), AfterValidator(_utc)]


@dataclass(frozen=True)
class Paging:
    page: int
    per_page: int


def paging(
    page: Annotated[int, Query(ge=1, le=MAX_PAGE, description="Page number, from 1.")] = 1,
    per_page: Annotated[int, Query(ge=1, le=MAX_PER_PAGE, description="Items per page.")] = 50,
) -> Paging:
    return Paging(page, per_page)


def batch_filter(
    status: Annotated[
        list[BatchStatus],
        BeforeValidator(_without_blanks),
        Query(description="Only batches in these statuses (repeatable)."),
    ] = [],  # noqa: B006 - FastAPI copies defaults
    name: Annotated[Text, Query(description="Part of the batch's name, any case.")] = None,
    schedule: Annotated[Text, Query(description="The schedule that fired it.")] = None,
    since: Annotated[
        Time, Query(description="Created at or after (ISO 8601; UTC if no zone).")
    ] = None,
    until: Annotated[Time, Query(description="Created before (ISO 8601; UTC if no zone).")] = None,
    tag: Annotated[Text, Query(description="A tag it carries.")] = None,
) -> BatchFilter:
    return BatchFilter(
        statuses=status, name=name, schedule=schedule, since=since, until=until, tag=tag
    )


def job_filter(
    status: Annotated[
        list[JobStatus],
        BeforeValidator(_without_blanks),
        Query(description="Only jobs in these statuses (repeatable)."),
    ] = [],  # noqa: B006
    kind: Annotated[
        list[str],
        BeforeValidator(_without_blanks),
        AfterValidator(_known_kinds),
        Query(description="Only jobs of these kinds (repeatable)."),
    ] = [],  # noqa: B006
    error: Annotated[
        list[str],
        BeforeValidator(_without_blanks),
        Query(description="Only jobs with these error classes (repeatable)."),
    ] = [],  # noqa: B006
) -> JobFilter:
    return JobFilter(statuses=status, kinds=kind, error_codes=error)


JobId = Annotated[int, Path(ge=1, le=MAX_ID, description="The job's database id.")]
PagingDep = Annotated[Paging, Depends(paging)]
BatchFilterDep = Annotated[BatchFilter, Depends(batch_filter)]
JobFilterDep = Annotated[JobFilter, Depends(job_filter)]
