"""Events devices must hear at once: emergency bulletins, pushed and pollable."""

from collections.abc import Iterable
from datetime import date
from typing import Any

from sqlmodel import Session, col, select

from scheduler.models import Playlist, StationEvent

EMERGENCY = "emergency"


def publish_bulletin(
    session: Session, *, booking_id: int, station_ids: Iterable[int], days: Iterable[date]
) -> list[StationEvent]:
    """Announce a booking's entries to the devices of each station whose playlists hold it."""
    events = []
    playlists = session.exec(
        select(Playlist)
        .where(col(Playlist.station_id).in_(list(station_ids)), col(Playlist.day).in_(list(days)))
        .order_by(col(Playlist.station_id), col(Playlist.day))
    )
    for playlist in playlists:
        entries = [e for e in playlist.body["entries"] if e["booking_id"] == booking_id]
        if not entries:
            continue
        event = StationEvent(
            station_id=playlist.station_id,
            kind=EMERGENCY,
            payload={
                "booking_id": booking_id,
                "station": playlist.body["station"],
                "date": playlist.body["date"],
                "version": playlist.version,
                "entries": entries,
            },
        )
        session.add(event)
        events.append(event)
    session.flush()
    return events


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
