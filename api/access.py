"""Which stations, content items, themes and bookings a caller may read or change: one rule each.

Routes and pages ask here instead of writing a scope check of their own. Who the caller
is and what their role grants is decided in `api.auth`.
"""

from typing import Annotated

from fastapi import Depends
from sqlmodel import Session

from api.auth import Allowed, Permission, Principal, require_reach, visible_station_ids
from content.models import ContentItem, Theme
from core.errors import ForbiddenError, NotFoundError
from core.models import Role
from scheduler.models import Booking, Station
from scheduler.service import ancestor_ids, list_stations

Planner = Annotated[Principal, Depends(Allowed(Permission.content_write))]


def readable_station_ids(session: Session, principal: Principal) -> set[int] | None:
    """Stations whose content the caller may read (None: all): their scope and, since a
    commune airs what its province and district write, the stations above it."""
    ids = visible_station_ids(session, principal)
    if ids is None or principal.station_id is None:
        return ids
    return ids | set(ancestor_ids(session, station_id=principal.station_id))


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
