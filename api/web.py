"""Web pages in Vietnamese, with cookie sessions and CSRF tokens on every form."""

import secrets
from datetime import datetime
from pathlib import Path
from typing import Annotated, Any
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.templating import Jinja2Templates
from sqlmodel import func, select

from api.auth import Principal, visible_station_ids, web_principal
from api.deps import SessionDep, SettingsDep
from api.routes.auth import client_address
from core.clock import utcnow
from core.errors import (
    ProblemError,
    ThrottledError,
    UnauthorizedError,
)
from core.identity import authenticate
from core.models import AuditEvent, User
from scheduler.models import Cluster, Station
from scheduler.service import list_stations

ROLE_NAMES = {
    "admin": "Quản trị hệ thống",
    "planner": "Cán bộ kế hoạch",
    "operator": "Cán bộ vận hành xã",
    "auditor": "Kiểm tra, thanh tra",
}
KIND_NAMES = {"province": "Tỉnh", "district": "Huyện / khu vực", "commune": "Xã"}
ACTION_NAMES = {"create": "Tạo", "update": "Sửa", "delete": "Xóa"}
OBJECT_NAMES = {
    "station": "Đài",
    "cluster": "Cụm loa",
    "content_item": "Nội dung",
    "user": "Tài khoản",
    "device_token": "Mã thiết bị",
}

templates = Jinja2Templates(directory=str(Path(__file__).parent / "templates"))


def _local_time(value: datetime, zone: str) -> str:
    return value.astimezone(ZoneInfo(zone)).strftime("%d/%m/%Y %H:%M")


templates.env.filters["local_time"] = _local_time
router = APIRouter(include_in_schema=False)

WebPrincipal = Annotated[Principal | None, Depends(web_principal)]


def csrf_token(request: Request) -> str:
    """The session's CSRF token, created on first use."""
    token = request.session.get("csrf")
    if not token:
        token = request.session["csrf"] = secrets.token_urlsafe(32)
    return token


def check_csrf(request: Request, csrf_token: Annotated[str, Form()] = "") -> None:
    """Refuse a form post whose CSRF token does not match the session's."""
    expected = request.session.get("csrf", "")
    if not expected or not secrets.compare_digest(expected.encode(), csrf_token.encode()):
        raise CsrfError


class CsrfError(Exception):
    """A form post without the session's CSRF token."""


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
            "csrf_token": csrf_token(request),
            "role_names": ROLE_NAMES,
            "kind_names": KIND_NAMES,
            "action_names": ACTION_NAMES,
            "object_names": OBJECT_NAMES,
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
def login_form(request: Request, principal: WebPrincipal) -> Response:
    """The login page (or home, for someone already logged in)."""
    if principal:
        return RedirectResponse("/", status_code=303)
    return render(request, "login.html", None)


@router.post("/login", dependencies=[Depends(check_csrf)])
def login(
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
    username: Annotated[str, Form(max_length=64)] = "",
    password: Annotated[str, Form(max_length=256)] = "",
) -> Response:
    """Check the password, start a session and go home; say what is wrong otherwise."""
    try:
        user = authenticate(
            session,
            settings=settings,
            username=username,
            password=password,
            client=client_address(request),
        )
    except (UnauthorizedError, ThrottledError) as exc:
        return render(
            request,
            "login.html",
            None,
            status=exc.status,
            error=exc.detail,
            username=username,
            headers=exc.headers,
        )
    request.session.clear()
    request.session.update(uid=user.id, ver=user.token_version, csrf=secrets.token_urlsafe(32))
    return RedirectResponse("/", status_code=303)


@router.post("/logout", dependencies=[Depends(check_csrf)])
def logout(request: Request) -> Response:
    """End the session."""
    request.session.clear()
    return RedirectResponse("/login", status_code=303)


@router.get("/")
def home(
    request: Request, principal: WebPrincipal, session: SessionDep, settings: SettingsDep
) -> Response:
    """Each role's home page: the stations in scope and, for overseers, recent changes."""
    if principal is None:
        return RedirectResponse("/login", status_code=303)
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
        today=utcnow().astimezone(ZoneInfo(settings.timezone)).date().isoformat(),
    )
