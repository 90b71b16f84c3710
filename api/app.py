"""The FastAPI application factory."""

import asyncio
import gc
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from functools import cache
from importlib.metadata import version
from pathlib import Path

from fastapi import APIRouter, FastAPI
from fastapi.concurrency import run_in_threadpool
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import HTMLResponse
from fastapi.staticfiles import StaticFiles
from sqlalchemy import Engine
from sqlalchemy.orm import configure_mappers
from starlette.middleware.sessions import SessionMiddleware
from starlette.routing import BaseRoute
from starlette.types import ASGIApp
from swagger_ui_bundle import swagger_ui_path

from api import web
from api.events import EventHub
from api.fastpath import FastPull, SqliteAsker
from api.limits import BodyLimit, ConcurrencyLimit
from api.live_ingest import LiveIngests
from api.pages import announcements as announcement_pages
from api.pages import bookings as booking_pages
from api.pages import calendar as calendar_pages
from api.pages import emergency as emergency_pages
from api.pages import items as item_pages
from api.pages import jobs as job_pages
from api.pages import live as live_pages
from api.pages import operator
from api.pages import plans as plan_pages
from api.pages import reports as report_pages
from api.pages import stations as station_pages
from api.problems import PROBLEM_RESPONSES, install_problem_handlers
from api.pull_asks import PullAsker
from api.routes import (
    airings,
    announcements,
    audio,
    audit,
    auth,
    bookings,
    content,
    devices,
    events,
    health,
    live,
    plans,
    playlists,
    reports,
    stations,
    users,
)
from api.security import SecurityHeaders
from audio.store import MediaStore
from core.db import POOL_CAPACITY, check_connection, create_db_engine
from core.errors import ProblemError
from core.identity import UsageLog
from core.migrations import require_current
from core.settings import Settings, load_settings, prepare_directories

STATIC_DIR = Path(__file__).parent / "static"
logger = logging.getLogger(__name__)

DESCRIPTION = """
Lập lịch phát thanh cho đài truyền thanh xã và đài phát thanh huyện, tỉnh:
kế hoạch → nội dung → âm thanh → lịch phát → nhật ký phát.

Errors are RFC 9457 `application/problem+json`.
"""


USAGE_FLUSH_S = 2.0
SESSION_COOKIE = "tt_session"


async def _write_device_uses(usage: UsageLog, engine: Engine) -> None:
    # Device tokens' last uses, written outside any request's transaction.
    while True:
        await asyncio.sleep(USAGE_FLUSH_S)
        try:
            await run_in_threadpool(usage.flush, engine)
        except Exception:  # the database is away: the next round writes what is left
            logger.exception("could not write device tokens' last uses")


class App(FastAPI):
    """The application, with the device's plain pull answered before every other layer.

    The pull is most of a morning's requests; the framework's own layers (error pages,
    body limits, telemetry) and ours each wrap it and its answer, which cost a fifth of
    a pull. The fast path falls back to all of them for anything it does not answer,
    and gives its answers the headers they would have added.
    """

    def build_middleware_stack(self) -> ASGIApp:
        return FastPull(super().build_middleware_stack())


@cache
def _routes() -> list[BaseRoute]:
    """Every route of the API and the pages, built once per process.

    FastAPI works out each route's dependencies when a router is included and again on its
    first request; an app of the tests' (one per test) paid that for ~360 routes, a
    quarter of the suite's time. The routes hold no settings: those are on `app.state`.
    """
    # Included into an app, the app's responses are added to each route's; here they
    # must be given, or the OpenAPI document would lose the problem reports.
    site = APIRouter(responses=PROBLEM_RESPONSES)
    v1 = APIRouter(prefix="/api/v1")
    # Routes are matched in order, one by one: what every device calls all day comes first.
    modules = (
        playlists,
        airings,
        events,
        health,
        auth,
        stations,
        content,
        plans,
        audio,
        bookings,
        announcements,
        live,
        reports,
        users,
        devices,
        audit,
    )
    for module in modules:
        v1.include_router(module.router)
    site.include_router(v1)
    pages = (
        web,
        operator,
        station_pages,
        report_pages,
        booking_pages,
        calendar_pages,
        emergency_pages,
        announcement_pages,
        live_pages,
        plan_pages,
        item_pages,
        job_pages,
    )
    for module in pages:
        site.include_router(module.router)
    return site.routes


def create_app(settings: Settings | None = None) -> FastAPI:
    """Build the app; it refuses to start on a database that needs `truyenthanh init`."""
    settings = settings or load_settings()
    prepare_directories(settings)
    engine = create_db_engine(settings.database)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        check_connection(engine)
        require_current(engine)
        try:
            await app.state.pull_asker.warm()
        except Exception:  # only a head start: the first pull will connect again
            logger.warning("could not prepare the fast path's questions", exc_info=True)
        usage = asyncio.create_task(_write_device_uses(app.state.device_usage, engine))
        yield
        usage.cancel()
        await app.state.pull_asker.close()
        await app.state.events.close()
        await app.state.live.close()
        app.state.device_usage.flush(engine)
        engine.dispose()

    app = App(
        title="Truyền thanh",
        version=version("truyenthanh"),
        description=DESCRIPTION,
        lifespan=lifespan,
        responses=PROBLEM_RESPONSES,
        docs_url=None,
        redoc_url=None,
    )
    app.state.settings = settings
    app.state.engine = engine
    app.state.store = MediaStore(settings.media_path)
    app.state.events = EventHub(engine)
    app.state.live = LiveIngests(
        engine=engine,
        store=app.state.store,
        root=settings.data_dir / "live",
        base_url=settings.public_base_url,
    )
    app.state.device_usage = UsageLog()
    app.state.pull_asker = (
        SqliteAsker(engine) if engine.dialect.name == "sqlite" else PullAsker(engine)
    )
    install_problem_handlers(app)

    app.router.routes.extend(_routes())
    app.add_exception_handler(web.CsrfError, web.csrf_failed)
    app.add_exception_handler(web.LoginRequired, web.login_required)
    # Refusals on pages are told on the message page; the API's stay problem reports.
    app.add_exception_handler(ProblemError, web.problem_on_page)
    app.add_middleware(
        SessionMiddleware,
        secret_key=settings.signing_key,
        session_cookie=SESSION_COOKIE,
        max_age=settings.session_hours * 3600,
        same_site="lax",
        https_only=settings.secure_cookies,
    )
    # Each middleware added runs before those added earlier: no request takes a
    # connection before it has a slot. A request may hold two at once (a pull that
    # makes a missing day), hence half.
    app.add_middleware(ConcurrencyLimit, limit=POOL_CAPACITY // 2)
    # A body arrives whole before its request asks for a slot.
    app.add_middleware(BodyLimit, session_cookie=SESSION_COOKIE)
    # Outermost, so every refusal carries the headers too.
    app.add_middleware(SecurityHeaders)
    app.mount("/static/app", StaticFiles(directory=str(STATIC_DIR)), name="static")
    _serve_docs_offline(app)
    return app


def serve_app() -> FastAPI:
    """The app of one `truyenthanh serve` process, which keeps it until it exits."""
    app = create_app()
    # SQLAlchemy sets up its models when a statement first names them: that was the first
    # pull's 20 ms, and every pull that arrived beside it in a morning's storm waited too.
    configure_mappers()
    # What a server builds to start (the framework, the models, the app) lives as long as
    # it does. Frozen, it is no longer walked by each full collection, which otherwise
    # stopped every request of the process for about 0.2 s during a morning's pulls.
    gc.collect()
    gc.freeze()
    return app


def _serve_docs_offline(app: FastAPI) -> None:
    # Communes and this machine are often offline: Swagger UI comes from a
    # pip package instead of a CDN.
    app.mount("/static/swagger", StaticFiles(directory=str(swagger_ui_path)), name="swagger")

    @app.get("/docs", include_in_schema=False)
    def docs() -> HTMLResponse:
        return get_swagger_ui_html(
            openapi_url=app.openapi_url or "/openapi.json",
            title="Truyền thanh — API v1",
            swagger_js_url="/static/swagger/swagger-ui-bundle.js",
            swagger_css_url="/static/swagger/swagger-ui.css",
            swagger_favicon_url="/static/swagger/favicon-32x32.png",
        )
