"""Events devices must hear at once: emergency bulletins, pushed and pollable."""

from collections.abc import Iterable
from datetime import date
from typing import Any

from sqlalchemy import insert
from sqlmodel import Session, col, select

from core.clock import utcnow
from scheduler.models import Playlist, StationEvent

EMERGENCY = "emergency"
LIVE = "live"  # a live session is on air: play its stream now
LIVE_END = "live_end"  # a live session ended: stop its stream


def publish_bulletin(
    session: Session,
    *,
    booking_id: int,
    station_ids: Iterable[int],
    days: Iterable[date],
    kind: str = EMERGENCY,
    extra: dict[str, Any] | None = None,
) -> int:
    """Announce a booking's entries to the devices of each station whose playlists hold it;
    return how many stations were told."""
    days = list(days)
    if not days:
        return 0
    rows = session.exec(
        select(Playlist.station_id, Playlist.version, Playlist.body)
        .where(col(Playlist.station_id).in_(list(station_ids)), col(Playlist.day).in_(days))
        .order_by(col(Playlist.station_id), col(Playlist.day))
    )
    now = utcnow()
    events: list[dict[str, Any]] = []
    for station_id, version, body in rows:
        entries = [e for e in body["entries"] if e["booking_id"] == booking_id]
        if entries:
            payload = {
                "booking_id": booking_id,
                "station": body["station"],
                "date": body["date"],
                "version": version,
                "entries": entries,
                **(extra or {}),
            }
            events.append(
                {"station_id": station_id, "kind": kind, "payload": payload, "created_at": now}
            )
    # One statement for a province's thousand communes, not a thousand objects.
    if events:
        session.execute(insert(StationEvent), events)
    return len(events)


def events_after(
    session: Session, *, after: int, station_ids: Iterable[int] | None = None, limit: int = 100
) -> list[StationEvent]:
    """Events newer than `after`, oldest first, for some stations or all."""
    query = select(StationEvent).where(StationEvent.id > after)
    if station_ids is not None:
        query = query.where(col(StationEvent.station_id).in_(list(station_ids)))
    return list(session.exec(query.order_by(col(StationEvent.id)).limit(limit)))


def last_event_id(session: Session) -> int:
    """The id of the newest event, 0 when there is none."""
    newest = session.exec(select(StationEvent.id).order_by(col(StationEvent.id).desc())).first()
    return newest or 0


def event_document(event: StationEvent) -> dict[str, Any]:
    """The public shape of an event."""
    return {
        "id": event.id,
        "kind": event.kind,
        "created_at": event.created_at.isoformat().replace("+00:00", "Z"),
        **event.payload,
    }
