"""Web pages in Vietnamese, with cookie sessions and CSRF tokens on every form."""

import secrets
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Annotated, Any, NamedTuple
from urllib.parse import urlencode
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Depends, Form, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.templating import Jinja2Templates
from pydantic import BaseModel, Field
from sqlmodel import func, select

from api.auth import (
    Permission,
    Principal,
    StationGrant,
    require_reach,
    visible_station_ids,
    web_principal,
)
from api.deps import SessionDep, SettingsDep, StoreDep, log_in
from api.pages import formats
from api.problems import problem_report
from api.uploads import receive_upload
from core.clock import local_today
from core.errors import (
    ForbiddenError,
    ProblemError,
    ThrottledError,
    UnauthorizedError,
)
from core.models import AuditEvent, User
from scheduler.models import Cluster, Station
from scheduler.service import get_station, list_stations

templates = Jinja2Templates(directory=str(Path(__file__).parent / "templates"))


def _local_time(value: datetime, zone: str) -> str:
    return value.astimezone(ZoneInfo(zone)).strftime("%d/%m/%Y %H:%M")


templates.env.filters["local_time"] = _local_time
templates.env.filters.update(formats.FILTERS)
templates.env.globals.update(formats.GLOBALS)
router = APIRouter(include_in_schema=False)

WebPrincipal = Annotated[Principal | None, Depends(web_principal)]


class LoginRequired(Exception):
    """A page asked for by someone not logged in."""


@dataclass(frozen=True)
class PageInfo:
    """What a page's refusal says: its heading and where the way back leads."""

    heading: str
    back: str = "/"


class Page:
    """Dependency: the person logged in to a page, if their role grants `permission`.

    Not logged in: off to the login page, which brings them back. A refusal, here or
    raised later by the page as a `ProblemError`, is told on the message page under
    `heading`, with a link to `back` (formatted with the path's parameters).
    """

    def __init__(
        self,
        permission: Permission | None = None,
        *,
        heading: str,
        back: str = "/",
        refusal: str | None = None,
    ) -> None:
        self.permission = permission
        self.heading = heading
        self.back = back
        self.refusal = refusal

    def __call__(self, request: Request, principal: WebPrincipal) -> Principal:
        request.state.page = PageInfo(self.heading, self.back.format(**request.path_params))
        if principal is None:
            raise LoginRequired
        request.state.principal = principal
        if self.permission is not None and not principal.may(self.permission):
            raise ForbiddenError(
                self.refusal.format(**request.path_params)
                if self.refusal
                else f"Vai trò {formats.ROLE_NAMES.get(principal.role, principal.role)} không được "
                "mở trang này."
            )
        return principal


class PageOnStation(Page):
    """Dependency: the station `{code}` of a page's path, if the person may act on it."""

    def __call__(  # type: ignore[override]
        self, code: str, request: Request, principal: WebPrincipal, session: SessionDep
    ) -> StationGrant:
        person = super().__call__(request, principal)
        station = get_station(session, code=code)
        require_reach(session, person, station)
        return StationGrant(principal=person, station=station)


def login_required(request: Request, _exc: LoginRequired) -> Response:
    """Send someone not logged in to the login page, which brings them back here."""
    target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    if request.method != "GET" or target == "/":
        return RedirectResponse("/login", status_code=303)
    return RedirectResponse(f"/login?{urlencode({'next': target})}", status_code=303)


async def problem_on_page(request: Request, exc: ProblemError) -> Response:
    """A refusal raised while answering a page, told on the message page; the API's as a
    problem report."""
    page = getattr(request.state, "page", None)
    if page is None:
        return problem_report(exc)
    principal = getattr(request.state, "principal", None)
    return problem_page(request, principal, exc, heading=page.heading, link=page.back)


def next_page(target: str) -> str:
    """Where a login may lead afterwards: a page of this site, never another's."""
    if target.startswith("/") and not target.startswith(("//", "/\\")) and "\n" not in target:
        return target
    return "/"


def csrf_token(request: Request) -> str:
    """The session's CSRF token, created on first use."""
    token = request.session.get("csrf")
    if not token:
        token = request.session["csrf"] = secrets.token_urlsafe(32)
    return token


def same_csrf(request: Request, sent: str) -> bool:
    """Whether a token sent with a form or request is the session's CSRF token."""
    expected = request.session.get("csrf", "")
    return bool(expected) and secrets.compare_digest(expected.encode(), sent.encode())


def check_csrf(request: Request, csrf_token: Annotated[str, Form()] = "") -> None:
    """Refuse a form post whose CSRF token does not match the session's."""
    if not same_csrf(request, csrf_token):
        raise CsrfError


class CsrfError(Exception):
    """A form post without the session's CSRF token."""


class Received(NamedTuple):
    """A page's upload: the file on disk and the form's other fields, or why it was refused."""

    temp: Path
    filename: str
    fields: dict[str, str]
    problem: ProblemError | None = None

    def refusal(self) -> dict[str, Any]:
        """The status and the file field's message for a page to show the refusal."""
        assert self.problem is not None
        return {"status": self.problem.status, "errors": {"file": self.problem.detail}}


async def _page_upload(
    request: Request, store: StoreDep, settings: SettingsDep
) -> AsyncIterator[Received]:
    # The form is streamed under the size cap, not read by FastAPI: its CSRF token is
    # checked here, and the file is removed once the page has answered.
    try:
        temp, filename, fields = await receive_upload(
            request, store=store, limit=settings.max_upload_mb << 20
        )
    except ProblemError as exc:
        yield Received(Path(), "", {}, exc)
        return
    try:
        if not same_csrf(request, fields.get("csrf_token", "")):
            raise CsrfError
        yield Received(temp, filename, fields)
    finally:
        temp.unlink(missing_ok=True)


PageUpload = Annotated[Received, Depends(_page_upload)]


# Each role's menu: what its permissions open, on every page, in this order.
MENU: tuple[tuple[Permission | None, dict[str, str]], ...] = (
    (None, {"/": "Trang chính"}),
    (Permission.airings_write, {"/today": "Hôm nay"}),
    (Permission.recordings_write, {"/recordings/new": "Tải bản ghi"}),
    (
        Permission.announcements_write,
        {"/announcements/new": "Gửi thông báo", "/live/new": "Phát trực tiếp"},
    ),
    (
        Permission.content_write,
        {
            "/plans": "Kế hoạch",
            "/items": "Nội dung",
            "/jobs": "Tạo âm thanh",
            "/calendar": "Lịch phát",
            "/bookings/new": "Đặt lịch",
            "/emergency/new": "Tin khẩn cấp",
        },
    ),
    (Permission.reports_read, {"/reports/compliance": "Báo cáo"}),
    (Permission.playlists_read, {"/airings": "Nhật ký phát"}),
)


def menu(principal: Principal | None) -> list[tuple[str, str]]:
    """The links of a person's menu: those their role opens."""
    if principal is None:
        return []
    national = principal.station_id is None
    return [
        (link, label)
        for permission, links in MENU
        if permission is None or principal.may(permission)
        for link, label in links.items()
        # A day belongs to one station: people with the whole country pick it on the home page.
        if not (link == "/today" and national)
    ]


def render(
    request: Request,
    name: str,
    principal: Principal | None,
    status: int = 200,
    headers: dict[str, str] | None = None,
    **context: Any,
) -> HTMLResponse:
    """Render a page with what every page needs."""
    return templates.TemplateResponse(
        request,
        name,
        {
            "principal": principal,
            "menu": menu(principal),
            "current_path": request.url.path,
            "csrf_token": csrf_token(request),
            **context,
        },
        status_code=status,
        headers=headers,
    )


def problem_page(
    request: Request,
    principal: Principal | None,
    exc: ProblemError,
    *,
    heading: str,
    link: str = "/",
    link_text: str | None = None,
) -> HTMLResponse:
    """A refused or failed page request told in words, with its status and a way back."""
    return render(
        request,
        "message.html",
        principal,
        status=exc.status,
        heading=heading,
        message=exc.detail,
        link=link,
        link_text=link_text or ("Về trang chính" if link == "/" else "Quay lại"),
    )


def csrf_failed(request: Request, _exc: CsrfError) -> HTMLResponse:
    """The page shown when a form arrives without a valid CSRF token."""
    return render(
        request,
        "message.html",
        None,
        status=403,
        heading="Biểu mẫu đã hết hạn",
        message="Trang này đã mở quá lâu hoặc không đến từ hệ thống. Hãy tải lại và thử lần nữa.",
        link="/login",
        link_text="Về trang đăng nhập",
    )


@router.get("/login")
def login_form(
    request: Request, principal: WebPrincipal, next: Annotated[str, Query(max_length=2000)] = "/"
) -> Response:
    """The login page (or the page asked for, for someone already logged in)."""
    if principal:
        return RedirectResponse(next_page(next), status_code=303)
    return render(request, "login.html", None, next=next_page(next))


class LoginForm(BaseModel):
    """What the login form sent, as typed, and the page to go to afterwards."""

    username: str = Field("", max_length=64)
    password: str = Field("", max_length=256)
    next: str = Field("/", max_length=2000)


@router.post("/login", dependencies=[Depends(check_csrf)])
def login(
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
    form: Annotated[LoginForm, Form()],
) -> Response:
    """Check the password, start a session and go to the page asked for; say what is wrong
    otherwise."""
    try:
        user = log_in(session, settings, request, form)
    except (UnauthorizedError, ThrottledError) as exc:
        return render(
            request,
            "login.html",
            None,
            status=exc.status,
            error=exc.detail,
            username=form.username,
            next=next_page(form.next),
            headers=exc.headers,
        )
    request.session.clear()
    request.session.update(uid=user.id, ver=user.token_version, csrf=secrets.token_urlsafe(32))
    return RedirectResponse(next_page(form.next), status_code=303)


@router.post("/logout", dependencies=[Depends(check_csrf)])
def logout(request: Request) -> Response:
    """End the session."""
    request.session.clear()
    return RedirectResponse("/login", status_code=303)


@router.get("/")
def home(
    request: Request,
    principal: Annotated[Principal, Depends(Page(heading="Không mở được trang chính"))],
    session: SessionDep,
    settings: SettingsDep,
) -> Response:
    """Each role's home page: the stations in scope and, for overseers, recent changes."""
    ids = visible_station_ids(session, principal)
    stations = list_stations(session, ids=ids)
    counts = dict(
        session.exec(
            select(Cluster.station_id, func.count())
            .where(Cluster.station_id.in_([s.id for s in stations]))
            .group_by(Cluster.station_id)
        ).all()
    )
    events = None
    if principal.role in ("admin", "auditor", "planner"):
        query = select(AuditEvent).order_by(AuditEvent.id.desc()).limit(20)
        if ids is not None:
            query = query.where(AuditEvent.station_id.in_(ids))
        events = list(session.exec(query))
    return render(
        request,
        "home.html",
        principal,
        user=session.get(User, principal.id),
        scope=session.get(Station, principal.station_id) if principal.station_id else None,
        stations=stations,
        cluster_counts=counts,
        events=events,
        timezone=settings.timezone,
        today=local_today(settings.timezone).isoformat(),
    )
