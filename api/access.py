"""Which stations, content items, themes, bookings and audio files a caller may read or
change: one rule each.

Routes and pages ask here instead of writing a scope check of their own. Who the caller
is and what their role grants is decided in `api.auth`.
"""

from datetime import timedelta
from typing import Annotated

from fastapi import Depends
from sqlmodel import Session, select

from api.auth import (
    DEVICE,
    Allowed,
    OnStation,
    Permission,
    Principal,
    StationGrant,
    require,
    require_reach,
    visible_station_ids,
)
from audio.models import AudioAsset
from content.models import ContentItem, Theme
from core.clock import utcnow
from core.errors import ForbiddenError, NotFoundError
from core.models import AuditEvent, Role
from scheduler.assets import audio_used_by
from scheduler.models import Booking, Station
from scheduler.service import ancestor_ids, get_station, list_stations

DEVICE_DAYS_BACK = 2  # the playlists whose audio a device may fetch: from this many days ago

# Who may call a route, as its parameter: the caller, or their grant on the path's station.
ContentReader = Annotated[Principal, Depends(Allowed(Permission.content_read))]
Planner = Annotated[Principal, Depends(Allowed(Permission.content_write))]
AnnouncementWriter = Annotated[Principal, Depends(Allowed(Permission.announcements_write))]
ScheduleReader = Annotated[StationGrant, Depends(OnStation(Permission.playlists_read))]
StationContentReader = Annotated[StationGrant, Depends(OnStation(Permission.content_read))]
StationPlanner = Annotated[StationGrant, Depends(OnStation(Permission.content_write))]
StationReader = Annotated[StationGrant, Depends(OnStation(Permission.stations_read))]
StationWriter = Annotated[StationGrant, Depends(OnStation(Permission.stations_write))]


def readable_station_ids(session: Session, principal: Principal) -> set[int] | None:
    """Stations whose content the caller may read (None: all): their scope and, since a
    commune airs what its province and district write, the stations above it."""
    ids = visible_station_ids(session, principal)
    if ids is None or principal.station_id is None:
        return ids
    return ids | set(ancestor_ids(session, station_id=principal.station_id))


def reachable_station(session: Session, principal: Principal, code: str | None) -> Station | None:
    """The station a request names, if it names one, within the caller's reach."""
    if not code:
        return None
    station = get_station(session, code=code)
    require_reach(session, principal, station)
    return station


def readable_item(session: Session, principal: Principal, item_id: int) -> ContentItem:
    """A content item the caller may read; 404 for one they may not even see."""
    item = session.get(ContentItem, item_id)
    ids = readable_station_ids(session, principal)
    if item is None or (ids is not None and item.station_id not in ids):
        raise NotFoundError(f"Không có nội dung số {item_id}.")
    return item


def writable_item(
    session: Session, principal: Principal, item_id: int
) -> tuple[ContentItem, Station]:
    """A content item and its station, if the item is within the caller's own scope."""
    item = readable_item(session, principal, item_id)
    station = session.get(Station, item.station_id)
    require_reach(session, principal, station)
    return item, station


def writable_booking(session: Session, principal: Principal, booking_id: int) -> Booking:
    """A booking whose station lies within the caller's scope; 404 when there is none."""
    booking = session.get(Booking, booking_id)
    if booking is None:
        raise NotFoundError(f"Không có lịch đặt số {booking_id}.")
    require_reach(session, principal, session.get(Station, booking.station_id))
    return booking


def writable_theme(session: Session, principal: Principal, theme_id: int) -> Theme:
    """A theme the caller may rename: one owned within their scope, or a shared one for
    admins; 404 for one they may not even see."""
    # Another province's theme names its items in that province's reports: only those
    # whose scope holds the owner edit it, and only admins edit the shared ones.
    theme = session.get(Theme, theme_id)
    ids = readable_station_ids(session, principal)
    if theme is None or (ids is not None and theme.station_id not in (ids | {None})):
        raise NotFoundError(f"Không có chủ đề số {theme_id}.")
    if theme.station_id is not None:
        require_reach(session, principal, session.get(Station, theme.station_id))
    elif principal.role != Role.admin:
        raise ForbiddenError(
            f"Chủ đề {theme.name!r} dùng chung cho cả nước, chỉ quản trị viên sửa được; "
            "hãy tạo chủ đề riêng của đài."
        )
    return theme


def stations_in_scope(session: Session, principal: Principal) -> list[Station]:
    """The stations the caller may act on, by code."""
    return list_stations(session, ids=visible_station_ids(session, principal))


def reads_audio(session: Session, principal: Principal, asset: AudioAsset) -> bool:
    """Tell whether a file is the caller's to fetch: played by a station in scope, made for
    one whose content they read, or stored by them. A device: what its station plays."""
    stations = visible_station_ids(session, principal)
    if stations is None:
        return True
    if principal.kind == DEVICE:
        # A receiver fetches what it is about to play: its station's days from yesterday
        # on, wherever its clock is. Its check reads a few rows, never years of history.
        recent = utcnow().date() - timedelta(days=DEVICE_DAYS_BACK)
        return audio_used_by(session, asset=asset, stations=stations, from_day=recent)
    makers = readable_station_ids(session, principal) or set()
    return audio_used_by(session, asset=asset, stations=stations, makers=makers) or _stored_by(
        session, principal, asset.sha256
    )


def _stored_by(session: Session, principal: Principal, sha256: str) -> bool:
    # A jingle belongs to no station until a programme uses it: its uploader may hear it.
    made = select(AuditEvent.id).where(
        AuditEvent.object_type == AudioAsset.__tablename__,
        AuditEvent.object_id == sha256,
        AuditEvent.action == "create",
        AuditEvent.actor_kind == principal.kind,
        AuditEvent.actor_id == principal.id,
    )
    return session.exec(made.limit(1)).first() is not None


def may_announce(session: Session, principal: Principal, station: Station, priority: str) -> None:
    """Refuse with 403 an announcement the caller may not air there at that priority.

    Emergencies: only those who send emergency bulletins. Planners: anywhere in scope. An
    operator: on their own commune, and only where no second person must approve what airs.
    """
    require(principal, Permission.announcements_write)
    require_reach(session, principal, station)
    if priority == "emergency" and not principal.may(Permission.content_write):
        raise ForbiddenError(
            "Chỉ cán bộ được phát tin khẩn cấp mới gửi thông báo khẩn cấp; hãy chọn mức "
            "thường hoặc ưu tiên, hoặc báo cán bộ kế hoạch."
        )
    if principal.may(Permission.content_approve):
        return
    if station.kind != "commune" or station.id != principal.station_id:
        raise ForbiddenError("Cán bộ vận hành chỉ gửi thông báo trên đài xã của mình.")
    if station.two_person_approval:
        raise ForbiddenError(
            f"Đài {station.code} yêu cầu người thứ hai duyệt trước khi phát, nên thông báo "
            "của cán bộ vận hành không được phát thẳng; hãy nhờ cán bộ kế hoạch gửi, hoặc "
            "đề nghị đài tắt yêu cầu duyệt hai người."
        )
