"""The dashboard's FastAPI app: read-only views of batches and jobs, straight from SQL."""

from __future__ import annotations

from collections.abc import Iterator
from html import escape
from typing import Annotated, Any

from fastapi import Depends, FastAPI, HTTPException
from fastapi.responses import HTMLResponse
from sqlalchemy.orm import Session

from audiobatch.config import Settings
from audiobatch.db.reports import batch_report, batch_summary, find_batch, list_batches
from audiobatch.db.session import session_scope
from audiobatch.errors import NotFoundError


def create_app(settings: Settings) -> FastAPI:
    app = FastAPI(title="audiobatch", summary="Batches and jobs rendered through the API.")
    url = settings.resolved_database_url

    def session() -> Iterator[Session]:
        with session_scope(url) as s:
            yield s

    SessionDep = Annotated[Session, Depends(session)]

    @app.get("/api/batches")
    def batches(db: SessionDep) -> list[dict[str, Any]]:
        """The latest batches with their job counts."""
        return [batch_summary(db, b) for b in list_batches(db)]

    @app.get("/api/batches/{ref}")
    def batch(ref: str, db: SessionDep) -> dict[str, Any]:
        """One batch with every job and its outputs."""
        try:
            return batch_report(db, find_batch(db, ref))
        except NotFoundError as exc:
            raise HTTPException(status_code=404, detail=str(exc)) from exc

    @app.get("/", response_class=HTMLResponse)
    def index(db: SessionDep) -> str:
        rows = "".join(
            f"<tr><td>{escape(s['id'])}</td><td>{escape(s['name'])}</td>"
            f"<td>{escape(s['status'])}</td><td>{escape(_counts(s['counts']))}</td></tr>"
            for s in (batch_summary(db, b) for b in list_batches(db))
        )
        return (
            "<!doctype html><title>audiobatch</title><h1>Batches</h1>"
            f"<table><tr><th>id</th><th>name</th><th>status</th><th>jobs</th></tr>{rows}</table>"
        )

    return app


def _counts(counts: dict[str, int]) -> str:
    return ", ".join(f"{n} {state}" for state, n in counts.items() if n)
