"""The announcement page: record on the phone's microphone (or pick a file), listen, send.

Sending is `scheduler.announcements.announce`, the same as
`POST /api/v1/stations/{code}/announcements`.
"""

import time
from typing import Annotated, Any
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import Response
from sqlmodel import Session, col, select

from api.access import may_announce, stations_in_scope
from api.auth import Permission, Principal, audio_query
from api.deps import SessionDep, SettingsDep, StoreDep
from api.links import audio_url, page_base
from api.pages.formats import PRIORITY_NAMES, day_text
from api.pages.forms import STATION_SELECT_LIMIT, chosen_station, default_station
from api.uploads import require_audio
from api.web import Page, PageUpload, render
from audio.service import spoken_length
from core.errors import ProblemError
from core.settings import Settings
from scheduler.announcements import Announced, announce
from scheduler.models import Cluster, Station

router = APIRouter(include_in_schema=False)

Announcer = Annotated[
    Principal,
    Depends(
        Page(
            Permission.announcements_write,
            heading="Không gửi được thông báo",
            back="/announcements/new",
            refusal="Vai trò này không gửi thông báo phát thanh.",
        )
    ),
]
CLUSTER_FIELD = "cluster:"  # one checkbox per cluster: an upload form keeps one value a name


def speaking_choices(session: Session, principal: Principal, code: str) -> dict[str, Any]:
    """What the announcement and live forms offer: stations, the chosen one's clusters, the
    priorities the caller may use, and whether the station needs a second approver."""
    stations = stations_in_scope(session, principal)
    station = session.exec(select(Station).where(Station.code == code)).first()
    clusters = (
        session.exec(
            select(Cluster).where(Cluster.station_id == station.id).order_by(col(Cluster.code))
        ).all()
        if station
        else []
    )
    return {
        "stations": stations if len(stations) <= STATION_SELECT_LIMIT else None,
        "clusters": list(clusters),
        # Said before speaking, not only after sending: `may_announce` refuses it then.
        "needs_approver": station is not None
        and station.two_person_approval
        and not principal.may(Permission.content_approve),
        "priorities": {
            name: text
            for name, text in PRIORITY_NAMES.items()
            if name != "emergency" or principal.may(Permission.content_write)
        },
    }


def _form_page(
    request: Request,
    session: Session,
    principal: Principal,
    *,
    form: dict[str, str],
    status: int = 200,
    errors: dict[str, str] | None = None,
    sent: dict[str, Any] | None = None,
) -> Response:
    return render(
        request,
        "announcement.html",
        principal,
        status=status,
        form=form,
        errors=errors or {},
        sent=sent,
        chosen={k[len(CLUSTER_FIELD) :] for k in form if k.startswith(CLUSTER_FIELD)},
        **speaking_choices(session, principal, form.get("station", "")),
    )


@router.get("/announcements/new")
def announcement_form(
    request: Request,
    principal: Announcer,
    session: SessionDep,
    station: Annotated[str, Query(max_length=64)] = "",
) -> Response:
    """The form: where, how urgent, the recording."""
    station = default_station(session, principal, asked=station)
    form = {"station": station, "priority": "normal", "title": "Thông báo của xã"}
    return _form_page(request, session, principal, form=form)


@router.post("/announcements/new")
async def send_announcement(
    request: Request,
    principal: Announcer,
    session: SessionDep,
    settings: SettingsDep,
    store: StoreDep,
    upload: PageUpload,
) -> Response:
    """Stream the recording with a size cap, check the CSRF token, then book it."""
    if upload.problem:
        return _form_page(request, session, principal, form={}, **upload.refusal())
    fields = upload.fields
    station, refusal = chosen_station(session, principal, fields.get("station", ""))
    if station is None:
        return _form_page(
            request, session, principal, form=fields, status=422, errors={"station": refusal}
        )
    priority = fields.get("priority") or "normal"
    clusters = sorted(k[len(CLUSTER_FIELD) :] for k in fields if k.startswith(CLUSTER_FIELD))
    try:
        may_announce(session, principal, station, priority)
        require_audio(upload.temp)
        announced = announce(
            session,
            store=store,
            station=station,
            upload=upload.temp,
            title=fields.get("title", ""),
            priority=priority,
            clusters=clusters,
            author=principal.name,
            base_url=settings.public_base_url,
        )
    except ProblemError as exc:
        session.rollback()
        field = next((e.get("field") for e in exc.errors or [] if e.get("field")), "file")
        known = ("title", "priority", "clusters", "station")
        return _form_page(
            request,
            session,
            principal,
            form=fields,
            status=exc.status,
            errors={field if field in known else "file": exc.detail},
        )
    session.commit()
    form = {"station": station.code, "priority": "normal", "title": "Thông báo của xã"}
    return _form_page(
        request,
        session,
        principal,
        form=form,
        sent=_sent(announced, station, settings, page_base(request)),
    )


def _sent(announced: Announced, station: Station, settings: Settings, base: str) -> dict[str, Any]:
    # What the operator needs to hear: when, where, how long, and the file as it will air.
    asset = announced.asset
    expires = int(time.time()) + 2 * 86_400
    airs = announced.airs_at.astimezone(ZoneInfo(station.timezone)) if announced.airs_at else None
    return {
        "title": announced.booking.title,
        "priority": PRIORITY_NAMES[announced.booking.priority],
        "emergency": announced.booking.priority == "emergency",
        "time": f"{airs:%H:%M}" if airs else None,
        "day": day_text(airs) if airs else None,
        "date": airs.date().isoformat() if airs else None,
        "clusters": announced.clusters,
        "length": spoken_length(asset.duration_s),
        "station": station.code,
        "listen": f"{audio_url(base, asset.sha256)}?"
        + audio_query(settings=settings, sha256=asset.sha256, expires=expires),
    }
