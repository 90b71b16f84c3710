"""Stations and clusters."""

from sqlmodel import Session, select

from core.errors import ConflictError, NotFoundError
from scheduler.models import Cluster, Station, StationKind


def get_station(session: Session, *, code: str) -> Station:
    """Return the station with this code, or raise NotFoundError."""
    station = session.exec(select(Station).where(Station.code == code)).first()
    if station is None:
        raise NotFoundError(f"Không có đài mã {code!r}.")
    return station


def create_station(
    session: Session,
    *,
    code: str,
    name: str,
    kind: StationKind,
    parent_code: str | None = None,
    timezone: str = "Asia/Ho_Chi_Minh",
    languages: list[str] | None = None,
) -> Station:
    """Add a station under its parent; the code must be new."""
    if session.exec(select(Station.id).where(Station.code == code)).first() is not None:
        raise ConflictError(f"Đã có đài mã {code!r}.")
    parent = get_station(session, code=parent_code) if parent_code else None
    station = Station(
        code=code,
        name=name,
        kind=kind,
        parent_id=parent.id if parent else None,
        timezone=timezone,
        languages=languages or ["vie"],
    )
    session.add(station)
    session.flush()
    return station


def add_cluster(
    session: Session, *, station: Station, code: str, name: str, zone_tags: list[str]
) -> Cluster:
    """Add a loudspeaker cluster to a station; its code must be new within the station."""
    existing = session.exec(
        select(Cluster.id).where(Cluster.station_id == station.id, Cluster.code == code)
    ).first()
    if existing is not None:
        raise ConflictError(f"Đài {station.code} đã có cụm loa mã {code!r}.")
    cluster = Cluster(station_id=station.id, code=code, name=name, zone_tags=zone_tags)
    session.add(cluster)
    session.flush()
    return cluster
