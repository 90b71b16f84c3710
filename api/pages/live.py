"""The live page: speak into the phone's microphone and the chosen clusters hear it.

The page opens a session (`scheduler.live.start_live`, as `POST
/api/v1/stations/{code}/live`), then sends the microphone's MediaRecorder stream in
small chunks, one POST after another (Chromium streams a request body only over
HTTP/2), and ends it; `static/live.js` does the sending.
"""

from typing import Annotated

from anyio import to_thread
from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import JSONResponse, Response
from sqlalchemy import Engine
from sqlmodel import Session

from api.access import may_announce
from api.auth import Permission, Principal, web_principal
from api.deps import EngineDep, SessionDep, SettingsDep
from api.links import page_base
from api.live_ingest import checked_live, ingests_of
from api.outputs import live_out
from api.pages.announcements import CLUSTER_FIELD, speaking_choices
from api.pages.forms import chosen_station, default_station
from api.web import Page, render, same_csrf
from core.audit import Actor
from core.errors import ForbiddenError, ProblemError, UnauthorizedError
from scheduler.live import Live, start_live

router = APIRouter(include_in_schema=False)

Speaker = Annotated[
    Principal,
    Depends(
        Page(
            Permission.announcements_write,
            heading="Không phát trực tiếp được",
            back="/live/new",
            refusal="Vai trò này không phát trực tiếp.",
        )
    ),
]


def _refused(exc: ProblemError) -> JSONResponse:
    return JSONResponse({"detail": exc.detail}, status_code=exc.status)


@router.get("/live/new")
def live_form(
    request: Request,
    principal: Speaker,
    session: SessionDep,
    station: Annotated[str, Query(max_length=64)] = "",
) -> Response:
    """The form: where, how urgent, then the microphone."""
    station = default_station(session, principal, asked=station)
    return render(
        request,
        "live.html",
        principal,
        station=station,
        **speaking_choices(session, principal, station),
    )


@router.post("/live/new")
async def open_live(
    request: Request, principal: Speaker, session: SessionDep, settings: SettingsDep
) -> Response:
    """Open the session; answer where the page sends its chunks (JSON)."""
    fields = await request.form()
    if not same_csrf(request, str(fields.get("csrf_token", ""))):
        return _refused(ForbiddenError("Biểu mẫu đã hết hạn: hãy tải lại trang rồi thử lại."))
    station, problem = chosen_station(session, principal, str(fields.get("station", "")))
    if station is None:
        return JSONResponse({"detail": problem}, status_code=422)
    priority = str(fields.get("priority") or "normal")
    clusters = sorted(k[len(CLUSTER_FIELD) :] for k in fields if k.startswith(CLUSTER_FIELD))
    try:
        may_announce(session, principal, station, priority)
        live = start_live(
            session,
            station=station,
            title=str(fields.get("title", "")),
            priority=priority,
            clusters=clusters,
            author=principal.name,
            base_url=settings.public_base_url,
        )
    except ProblemError as exc:
        session.rollback()
        return _refused(exc)
    session.commit()
    out = live_out(live, base_url=page_base(request))
    return JSONResponse(
        {
            "id": out.id,
            "title": out.title,
            "chunks": f"/live/{out.id}/chunks",
            "end": f"/live/{out.id}/end",
            "listen": out.listen,
        },
        status_code=201,
    )


def _page_live(request: Request, engine: Engine, live_id: int) -> tuple[Live, Actor]:
    # The person and their token, checked in a transaction of its own: a chunk must not
    # hold the database while the session goes on air or ends in another.
    if not same_csrf(request, request.headers.get("x-csrf-token", "")):
        raise ForbiddenError("Biểu mẫu đã hết hạn: hãy tải lại trang rồi thử lại.")

    def person(session: Session) -> Principal:
        found = web_principal(request, session)
        if found is None:
            raise UnauthorizedError("Phiên đăng nhập đã hết; hãy đăng nhập lại.")
        return found

    return checked_live(engine, principal_of=person, live_id=live_id)


@router.post("/live/{live_id}/chunks")
async def send_chunk(live_id: int, request: Request, engine: EngineDep) -> Response:
    """The next chunk of the microphone's stream; says whether it is on air yet."""
    try:
        live, actor = await to_thread.run_sync(_page_live, request, engine, live_id)
        if live.status == "ended":
            raise ForbiddenError("Phiên trực tiếp đã kết thúc.")
        ingests = ingests_of(request)
        await ingests.feed(
            live_id=live_id,
            station_id=live.station.id,
            key=live.state["key"],
            chunk=await request.body(),
            actor=actor,
        )
    except ProblemError as exc:
        return _refused(exc)
    return JSONResponse({"on_air": ingests.on_air(live_id)})


@router.post("/live/{live_id}/end")
async def end_page_live(
    live_id: int, request: Request, engine: EngineDep, settings: SettingsDep
) -> Response:
    """End the session: what was said is archived, the clusters go back to their day."""
    try:
        live, actor = await to_thread.run_sync(_page_live, request, engine, live_id)
    except ProblemError as exc:
        return _refused(exc)
    failed = await ingests_of(request).finish(
        live_id=live_id, station_id=live.station.id, actor=actor
    )
    return JSONResponse({"ended": True, "failed": failed})
