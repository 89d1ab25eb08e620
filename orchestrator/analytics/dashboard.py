"""The dashboard: one static page (vendored Chart.js, no build step) over a JSON API.

The page asks `/api/report` with its filters and draws what comes back; every number
is also written into the DOM (data-* attributes) so the browser test reads them.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from datetime import date
from pathlib import Path
from typing import Any

from fastapi import FastAPI, Query
from fastapi.responses import FileResponse, JSONResponse
from fastapi.staticfiles import StaticFiles

from nudgeflow.orchestrator.analytics.model import OnboardingAnalytics
from nudgeflow.orchestrator.analytics.results import Filter
from nudgeflow.orchestrator.analytics.source import TopicFeed

STATIC = Path(__file__).parent / "static"


def create_app(
    analytics: OnboardingAnalytics | Callable[[], OnboardingAnalytics], feed: TopicFeed | None = None
) -> FastAPI:
    """Serve `analytics`; with a `feed`, start it with the app so numbers follow the topics. Given a
    factory instead (a database file another process writes), open it for each request and close it."""

    def current() -> tuple[OnboardingAnalytics, bool]:
        return (analytics, False) if isinstance(analytics, OnboardingAnalytics) else (analytics(), True)

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        if feed is not None:
            await feed.start()
        try:
            yield
        finally:
            if feed is not None:
                await feed.stop()

    app = FastAPI(title="Nudgeflow analytics", lifespan=lifespan)
    app.mount("/static", StaticFiles(directory=STATIC), name="static")

    @app.get("/", include_in_schema=False)
    async def page() -> FileResponse:
        return FileResponse(STATIC / "dashboard.html")

    @app.get("/api/report")
    async def report(
        playbook: str | None = Query(None),
        role: str | None = Query(None),
        start: date | None = Query(None, alias="from"),
        end: date | None = Query(None, alias="to"),
        adoption_days: int = Query(7, ge=1),
        nudge_hours: int = Query(48, ge=1),
    ) -> JSONResponse:
        flt = Filter(playbook=playbook or None, role=role or None, signup_from=start, signup_to=end)
        source, opened = current()
        try:
            result = source.report(flt, adoption_days=adoption_days, nudge_hours=nudge_hours)
        finally:
            if opened:
                source.close()
        return JSONResponse(result.model_dump(mode="json"))

    @app.get("/healthz", include_in_schema=False)
    async def healthz() -> dict[str, Any]:
        caught_up = feed.caught_up.is_set() if feed is not None else True
        source, opened = current()
        try:
            return {"ok": True, "caught_up": caught_up, "users": source.user_count()}
        finally:
            if opened:
                source.close()

    return app
