"""The API's documentation at ``/docs``: Swagger UI 5 (it reads OpenAPI 3.1) served from the
files the installed ``fastapi-offline`` package ships, so it works offline and under the
dashboard's CSP (the page has no inline script: ``static/docs.js`` starts Swagger UI on
``/openapi.json``)."""

from __future__ import annotations

from importlib.resources import files

from fastapi import APIRouter, FastAPI
from fastapi.responses import HTMLResponse
from fastapi.staticfiles import StaticFiles

ASSETS = "/static/swagger-ui"

router = APIRouter(include_in_schema=False)

PAGE = f"""<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>audiobatch dashboard · API</title>
<link rel="stylesheet" href="{ASSETS}/swagger-ui.css">
</head>
<body>
<div id="swagger-ui"></div>
<script src="{ASSETS}/swagger-ui-bundle.js"></script>
<script src="/static/docs.js"></script>
</body>
</html>
"""


@router.get("/docs", response_class=HTMLResponse)
def docs() -> HTMLResponse:
    return HTMLResponse(PAGE)


def mount_assets(app: FastAPI) -> None:
    """Serve Swagger UI's files (before ``/static``, which would otherwise claim the path)."""
    swagger_ui = files("fastapi_offline") / "static"
    app.mount(ASSETS, StaticFiles(directory=str(swagger_ui)), name="swagger-ui")
