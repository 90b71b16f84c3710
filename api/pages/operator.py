"""The commune operator's pages: the day's programme, confirming airings, the printed sheet."""

import time
import uuid
from datetime import date, datetime, timedelta
from typing import Annotated, Any
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import RedirectResponse, Response
from pydantic import ValidationError
from sqlmodel import Session, col, select

from api.access import readable_item
from api.auth import Permission, Principal, StationGrant, audio_query
from api.deps import SessionDep, SettingsDep, StoreDep
from api.links import audio_url, page_base
from api.pages.formats import AIRING_NAMES, WEEKDAYS, day_text, minutes_text
from api.uploads import require_audio
from api.web import Page, PageOnStation, PageUpload, check_csrf, render
from audio.models import AudioAsset
from audio.service import add_recording
from content.languages import LANGUAGES
from content.models import ContentItem, ContentStatus
from core.clock import utcnow
from core.errors import InvalidError, ProblemError
from core.settings import Settings
from scheduler.airings import IngestReport, ingest_airings
from scheduler.models import AiringIn, AiringRecord, AiringStatus, Cluster, Playlist, Station
from scheduler.playlists import current_playlist, playlist_document
from scheduler.service import CODE_PATTERN, ancestor_ids, render_settings, station_today

router = APIRouter(include_in_schema=False)


HEADING = "Không mở được chương trình phát thanh"
OUT_OF_SCOPE = "Đài {code} nằm ngoài phạm vi được giao."
Reader = Annotated[
    StationGrant,
    Depends(PageOnStation(Permission.playlists_read, heading=HEADING, refusal=OUT_OF_SCOPE)),
]
Confirmer = Annotated[
    StationGrant,
    Depends(PageOnStation(Permission.airings_write, heading=HEADING, refusal=OUT_OF_SCOPE)),
]
Recorder = Annotated[
    Principal,
    Depends(
        Page(Permission.recordings_write, heading=HEADING, refusal="Vai trò này không tải bản ghi.")
    ),
]


def _entries(
    playlist: Playlist, station: Station, settings: Settings, cluster: str | None, base: str
) -> list[dict[str, Any]]:
    zone = ZoneInfo(station.timezone)
    expires = int(time.time()) + 2 * 86_400
    out = []
    for entry in playlist_document(playlist, cluster=cluster)["entries"]:
        start = datetime.fromisoformat(entry["start"]).astimezone(zone)
        end = datetime.fromisoformat(entry["end"]).astimezone(zone)
        audio = entry.get("audio")
        out.append(
            {
                **entry,
                "start_text": f"{start:%H:%M}",
                "end_text": f"{end:%H:%M}",
                "length_text": minutes_text((end - start).total_seconds()),
                "language_text": LANGUAGES.get(entry.get("language") or "", "—"),
                "clusters_text": "tất cả"
                if "*" in entry["clusters"]
                else ", ".join(entry["clusters"]),
                # The page's player opens the file with a signed link: the web session
                # cookie does not open the REST API.
                "listen": f"{audio_url(base, audio['sha256'])}?"
                + audio_query(settings=settings, sha256=audio["sha256"], expires=expires)
                if audio
                else None,
            }
        )
    return out


@router.get("/stations/{code}/sheet/{day}")
def programme_sheet(
    day: date,
    request: Request,
    grant: Reader,
    session: SessionDep,
    settings: SettingsDep,
    cluster: str | None = None,
) -> Response:
    """The day's programme as a printable sheet for the operator's desk."""
    station, principal = grant.station, grant.principal
    if cluster is not None and not CODE_PATTERN.match(cluster):
        raise InvalidError("Mã cụm loa không hợp lệ.")
    playlist = current_playlist(
        session, station_id=station.id, day=day, base_url=settings.public_base_url
    )
    zone = ZoneInfo(station.timezone)
    gaps = [
        {
            **gap,
            "start_text": f"{datetime.fromisoformat(gap['start']).astimezone(zone):%H:%M}",
            "end_text": f"{datetime.fromisoformat(gap['end']).astimezone(zone):%H:%M}",
        }
        for gap in playlist.gaps
    ]
    return render(
        request,
        "sheet.html",
        principal,
        station=station,
        document=playlist_document(playlist, cluster=cluster),
        entries=_entries(playlist, station, settings, cluster, page_base(request)),
        gaps=gaps,
        cluster=cluster,
        day_text=day_text(day),
        weekday=WEEKDAYS[day.weekday()],
        zone_name=station.timezone,
    )


def _latest_records(session: Session, station: Station, day: date) -> dict[str, AiringRecord]:
    # The newest record of each entry wins: a correction comes after what it corrects.
    latest: dict[str, AiringRecord] = {}
    for record in session.exec(
        select(AiringRecord)
        .where(AiringRecord.station_id == station.id, AiringRecord.day == day)
        .order_by(col(AiringRecord.seq))
    ):
        latest[record.entry_id] = record
    return latest


def _day_page(
    request: Request,
    principal: Principal,
    session: Session,
    settings: Settings,
    station: Station,
    day: date,
    *,
    status: int = 200,
    errors: dict[str, str] | None = None,
    saved: str | None = None,
) -> Response:
    playlist = current_playlist(
        session, station_id=station.id, day=day, base_url=settings.public_base_url
    )
    zone = ZoneInfo(station.timezone)
    latest = _latest_records(session, station, day)
    now = utcnow()
    entries = _entries(playlist, station, settings, None, page_base(request))
    for entry in entries:
        record = latest.get(entry["id"])
        entry["record"] = record
        entry["record_text"] = (
            f"{AIRING_NAMES[record.status]}"
            + (f" lúc {record.started_at.astimezone(zone):%H:%M}" if record.started_at else "")
            + (" (thiết bị báo)" if record.source == "device" else " (cán bộ xác nhận)")
            + (f": {record.reason}" if record.reason else "")
            if record
            else (
                "chưa có báo cáo, đã quá giờ"
                if datetime.fromisoformat(entry["end"]) < now
                else "chưa đến giờ"
            )
        )
    clusters = list(
        session.exec(
            select(Cluster.code).where(Cluster.station_id == station.id).order_by(Cluster.code)
        )
    )
    return render(
        request,
        "day.html",
        principal,
        status=status,
        station=station,
        day=day,
        day_text=day_text(day),
        weekday=WEEKDAYS[day.weekday()],
        previous_day=day - timedelta(days=1),
        next_day=day + timedelta(days=1),
        frozen=playlist.frozen_at is not None,
        entries=entries,
        clusters=clusters,
        errors=errors or {},
        saved=saved,
        airing_names=AIRING_NAMES,
        may_confirm=principal.may(Permission.airings_write),
        emergency=any(e["priority"] == "emergency" for e in entries),
    )


@router.get("/today")
def today_page(
    principal: Annotated[Principal, Depends(Page(Permission.playlists_read, heading=HEADING))],
    session: SessionDep,
) -> Response:
    """The day of the person's own station, on its own calendar."""
    station = session.get(Station, principal.station_id) if principal.station_id else None
    if station is None:
        raise InvalidError("Tài khoản toàn quốc: hãy chọn đài ở trang chính.")
    return RedirectResponse(
        f"/stations/{station.code}/day/{station_today(station).isoformat()}", status_code=303
    )


@router.get("/stations/{code}/day/{day}")
def day_page(
    day: date,
    request: Request,
    grant: Reader,
    session: SessionDep,
    settings: SettingsDep,
    saved: str | None = None,
) -> Response:
    """A station's day: each entry with its player and what was reported about it."""
    return _day_page(request, grant.principal, session, settings, grant.station, day, saved=saved)


def _clock(day: date, value: str, zone: ZoneInfo) -> datetime | None:
    if not value:
        return None
    try:
        return datetime.combine(day, datetime.strptime(value, "%H:%M").time(), zone)
    except ValueError as exc:
        raise InvalidError("Giờ ghi theo dạng HH:MM, ví dụ 05:30.") from exc


@router.post("/stations/{code}/day/{day}/airings", dependencies=[Depends(check_csrf)])
def confirm_airing(
    day: date,
    request: Request,
    grant: Confirmer,
    session: SessionDep,
    settings: SettingsDep,
    entry_id: Annotated[str, Form(max_length=64)],
    status: Annotated[str, Form(max_length=16)],
    reason: Annotated[str, Form(max_length=500)] = "",
    cluster: Annotated[str, Form(max_length=64)] = "",
    started: Annotated[str, Form(max_length=5)] = "",
    ended: Annotated[str, Form(max_length=5)] = "",
) -> Response:
    """Record what the operator saw; a second answer for an entry corrects the first."""
    station, principal = grant.station, grant.principal
    zone = ZoneInfo(station.timezone)
    try:
        if status not in AIRING_NAMES:
            raise InvalidError("Hãy chọn đã phát, phát một phần, không phát hoặc phát lỗi.")
        previous = _latest_records(session, station, day).get(entry_id)
        record = AiringIn(
            id=f"web-{uuid.uuid4()}",
            entry_id=entry_id,
            cluster=cluster or None,
            started_at=_clock(day, started, zone),
            ended_at=_clock(day, ended, zone),
            status=AiringStatus(status),
            reason=reason.strip() or None,
            corrects=previous.client_id if previous else None,
        )
        report = ingest_airings(
            session,
            station=station,
            records=[record],
            source="operator",
            recorded_by=principal.name,
        )
    except ValidationError:
        report = IngestReport(rejected=[{"id": "", "reason": "Biểu mẫu thiếu hoặc sai thông tin."}])
    except ProblemError as exc:
        session.rollback()
        errors = {entry_id: exc.detail}
        return _day_page(
            request, principal, session, settings, station, day, status=422, errors=errors
        )
    if report.rejected:
        session.rollback()
        errors = {entry_id: report.rejected[0]["reason"]}
        return _day_page(
            request, principal, session, settings, station, day, status=422, errors=errors
        )
    session.commit()
    return RedirectResponse(
        f"/stations/{station.code}/day/{day.isoformat()}?saved={entry_id}#{entry_id}",
        status_code=303,
    )


def _recordable_items(session: Session, principal: Principal) -> list[ContentItem]:
    # Recordings translate approved Vietnamese items of the operator's station or above.
    owners = (
        ancestor_ids(session, station_id=principal.station_id) if principal.station_id else None
    )
    query = select(ContentItem).where(
        ContentItem.status == ContentStatus.approved, ContentItem.language == "vie"
    )
    if owners is not None:
        query = query.where(col(ContentItem.station_id).in_(owners))
    return list(session.exec(query.order_by(col(ContentItem.id).desc()).limit(200)))


def _recording_form(
    request: Request,
    principal: Principal,
    session: Session,
    *,
    status: int = 200,
    form: dict[str, str] | None = None,
    errors: dict[str, str] | None = None,
    saved: dict[str, Any] | None = None,
) -> Response:
    return render(
        request,
        "recording.html",
        principal,
        status=status,
        items=_recordable_items(session, principal),
        languages={k: v for k, v in LANGUAGES.items() if k != "vie"},
        form=form or {},
        errors=errors or {},
        saved=saved,
    )


@router.get("/recordings/new")
def recording_form(
    request: Request, principal: Recorder, session: SessionDep, item: int | None = None
) -> Response:
    """The form an operator uses to upload a villager's recording in an ethnic language."""
    return _recording_form(request, principal, session, form={"item": str(item or "")})


@router.post("/recordings/new")
async def upload_recording_page(
    request: Request,
    principal: Recorder,
    session: SessionDep,
    settings: SettingsDep,
    store: StoreDep,
    upload: PageUpload,
) -> Response:
    """Stream the file with a size cap, check the CSRF token, then decode and keep it."""
    if upload.problem:
        return _recording_form(request, principal, session, **upload.refusal())
    fields = upload.fields
    try:
        require_audio(upload.temp)
        item = readable_item(session, principal, int(fields.get("item") or 0))
        station = session.get(Station, principal.station_id or item.station_id)
        recording = add_recording(
            session,
            store=store,
            item=item,
            language=fields.get("language", ""),
            speaker=fields.get("speaker", "").strip(),
            upload=upload.temp,
            filename=upload.filename,
            station_id=station.id,
            uploaded_by=principal.name,
            settings=render_settings(station),
        )
    except ProblemError as exc:
        session.rollback()
        field = next((e.get("field") for e in exc.errors or [] if e.get("field")), "file")
        return _recording_form(
            request,
            principal,
            session,
            status=exc.status,
            form=fields,
            errors={field if field in ("language", "speaker") else "file": exc.detail},
        )
    session.commit()
    asset = session.get(AudioAsset, recording.broadcast_sha256)
    expires = int(time.time()) + 2 * 86_400
    listen = f"{audio_url(page_base(request), asset.sha256)}?" + audio_query(
        settings=settings, sha256=asset.sha256, expires=expires
    )
    return _recording_form(
        request,
        principal,
        session,
        saved={
            "title": item.title,
            "language": LANGUAGES[recording.language],
            "speaker": recording.speaker,
            "seconds": round(asset.duration_s),
            "listen": listen,
        },
    )
