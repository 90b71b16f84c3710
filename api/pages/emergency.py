"""Emergency bulletins from the web: say plainly what will be interrupted, then send it now.

Sending is `scheduler.flows.send_emergency`, the same as `POST /api/v1/stations/{code}/emergencies`.
"""

from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Form, Query, Request
from fastapi.responses import RedirectResponse, Response
from sqlmodel import Session, col, func, select

from api.access import stations_in_scope
from api.auth import Permission, Principal
from api.deps import SessionDep, SettingsDep
from api.pages.bookings import REFUSAL
from api.pages.formats import day_text, minutes_text
from api.pages.forms import (
    STATION_SELECT_LIMIT,
    EmergencyForm,
    chosen_station,
    default_station,
    flash,
    item_choices,
    read_source,
    read_title,
    refusal_view,
)
from api.web import Page, check_csrf, render
from core.errors import ProblemError
from core.settings import Settings
from scheduler import flows
from scheduler.models import Booking, Cluster, Station
from scheduler.planner import Source, resolve_source
from scheduler.service import station_now, subtree_ids

router = APIRouter(include_in_schema=False)

Sender = Annotated[
    Principal,
    Depends(
        Page(
            Permission.content_write,
            heading="Không phát được tin khẩn cấp",
            back="/emergency/new",
            refusal=REFUSAL,
        )
    ),
]


def _emergency_context(
    session: Session, principal: Principal, form: EmergencyForm
) -> dict[str, Any]:
    stations = stations_in_scope(session, principal)
    return {
        "form": form,
        "stations": stations if len(stations) <= STATION_SELECT_LIMIT else None,
        "items": item_choices(session, principal),
        "errors": {},
        "conflicts": None,
        "conflict_total": 0,
        "step": "form",
    }


def _emergency_page(
    request: Request,
    session: Session,
    principal: Principal,
    form: EmergencyForm,
    *,
    status: int = 200,
    **extra: Any,
) -> Response:
    context = _emergency_context(session, principal, form)
    context.update(extra)
    return render(request, "emergency.html", principal, status=status, **context)


def _read_emergency(
    session: Session, principal: Principal, form: EmergencyForm, settings: Settings
) -> tuple[Station | None, dict[str, Any], Source | None, dict[str, str]]:
    """The target, the booking's source fields and what will air, or each field's problem."""
    errors: dict[str, str] = {}
    station, problem = chosen_station(session, principal, form.station)
    if problem:
        errors["station"] = problem
    if form.source not in ("relay", "item"):
        errors["source"] = "Hãy chọn tiếp sóng một luồng hoặc một nội dung đã duyệt."
        return station, {}, None, errors
    values = read_source(form, form.source, errors)
    values["title"] = read_title(session, form, values, errors)
    source = None
    if not errors:
        found = resolve_source(
            session,
            Booking(recurrence={}, created_by="", **values),
            settings.public_base_url,
        )
        if isinstance(found, str):
            errors["item_id"] = f"Chưa phát được: {found}."
        else:
            source = found
    return station, values, source, errors


def _reach_counts(session: Session, station: Station, subtree: bool) -> dict[str, Any]:
    ids = subtree_ids(session, root_id=station.id) if subtree else {station.id}
    stations = list(session.exec(select(Station).where(col(Station.id).in_(ids))))
    clusters = session.exec(
        select(func.count()).select_from(Cluster).where(col(Cluster.station_id).in_(ids))
    ).one()
    return {
        "stations": len(stations),
        "communes": sum(1 for s in stations if s.kind == "commune"),
        "clusters": clusters,
        "names": [s.name for s in sorted(stations, key=lambda s: s.code)][:20],
    }


@router.get("/emergency/new")
def emergency_form(
    request: Request,
    principal: Annotated[
        Principal,
        Depends(
            Page(
                Permission.content_write,
                heading="Không mở được trang tin khẩn cấp",
                refusal=REFUSAL,
            )
        ),
    ],
    session: SessionDep,
    station: Annotated[str, Query(max_length=64)] = "",
) -> Response:
    """The emergency bulletin form: where and what to air at once."""
    default = default_station(session, principal, asked=station)
    form = EmergencyForm(station=default, subtree=True, length="5", title="Thông báo khẩn cấp")
    return _emergency_page(request, session, principal, form)


@dataclass
class Posted:
    """An emergency form as posted by someone who may send one."""

    request: Request
    session: Session
    principal: Principal
    settings: Settings
    form: EmergencyForm

    def read(self) -> tuple[Station | None, dict[str, Any], Source | None, dict[str, str]]:
        """The target, the booking's source fields and what will air, or each problem."""
        return _read_emergency(self.session, self.principal, self.form, self.settings)

    def page(self, **extra: Any) -> Response:
        """The form again, or its confirmation, with what `extra` adds."""
        return _emergency_page(self.request, self.session, self.principal, self.form, **extra)


async def _posted(
    request: Request,
    principal: Sender,
    session: SessionDep,
    settings: SettingsDep,
    form: Annotated[EmergencyForm, Form()],
) -> Posted:
    return Posted(request, session, principal, settings, form)


PostedForm = Annotated[Posted, Depends(_posted)]


@router.post("/emergency/new", dependencies=[Depends(check_csrf)])
def emergency_check(posted: PostedForm) -> Response:
    """Say plainly how many stations and clusters will be interrupted, and when, before booking."""
    if posted.form.step == "edit":
        return posted.page()
    station, _values, source, errors = posted.read()
    if errors:
        return posted.page(status=422, errors=errors)
    assert station is not None and source is not None
    now = station_now(station)
    return posted.page(
        step="confirm",
        station=station,
        reach=_reach_counts(posted.session, station, posted.form.subtree),
        now_text=f"{now:%H:%M}",
        today_text=day_text(now.date()),
        length_text=minutes_text(source.seconds),
    )


@router.post("/emergency", dependencies=[Depends(check_csrf)])
def emergency_send(posted: PostedForm) -> Response:
    """Book the bulletin now, once, as an emergency, and tell the devices at once."""
    station, values, _source, errors = posted.read()
    if errors:
        return posted.page(status=422, errors=errors)
    assert station is not None
    try:
        booked = flows.send_emergency(
            posted.session,
            station=station,
            source=values,
            subtree=posted.form.subtree,
            author=posted.principal.name,
            base_url=posted.settings.public_base_url,
        )
    except ProblemError as exc:
        return posted.page(**refusal_view(posted.session, posted.principal, exc))
    posted.session.commit()
    flash(
        posted.request,
        action="emergency",
        booking=booked.booking.id,
        notified=booked.notified,
        at=booked.booking.at,
        displaced=[],
        displaced_total=0,
    )
    return RedirectResponse(f"/bookings/{booked.booking.id}", status_code=303)
