"""Device heartbeats and the state of a station's loudspeaker clusters."""

from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import cache
from typing import Any

from sqlmodel import Session, col, select

from core.clock import utcnow
from core.db import dialect_insert
from scheduler.models import Cluster, DeviceStatus, Playlist, Station

OFFLINE_AFTER = timedelta(minutes=5)  # agents beat every minute; three missed is offline
STATES = frozenset({"playing", "idle", "silent", "offline", "unknown"})


def record_heartbeat(
    session: Session,
    *,
    device_id: int,
    station_id: int,
    state: dict[str, Any],
    now: datetime | None = None,
) -> None:
    """Keep the latest state a device reported; the caller commits."""
    row = {**state, "device_id": device_id, "station_id": station_id, "seen_at": now or utcnow()}
    session.execute(_status_upsert(session.get_bind().dialect.name, tuple(sorted(row))), row)


@cache
def _status_upsert(dialect: str, names: tuple[str, ...]) -> Any:
    # One statement, built once: every device beats every minute.
    upsert = dialect_insert(dialect, DeviceStatus)
    return upsert.on_conflict_do_update(
        index_elements=["device_id"],
        set_={name: upsert.excluded[name] for name in names if name != "device_id"},
    )


@dataclass
class ClusterState:
    """What one cluster is doing now, as far as its devices tell."""

    station: str
    cluster: str | None
    name: str
    state: str  # playing | idle | silent | offline | unknown
    reason: str
    seen_at: datetime | None = None
    volume: int | None = None
    playing_entry_id: str | None = None
    cache_fill: float | None = None
    software_version: str | None = None


def _expected_now(session: Session, station: Station, now: datetime) -> dict[str | None, str]:
    # Which clusters the schedule has on air right now, and with which entry.
    playlists = session.exec(
        select(Playlist.body).where(
            Playlist.station_id == station.id,
            col(Playlist.day).between(
                (now - timedelta(days=1)).date(), (now + timedelta(days=1)).date()
            ),
        )
    )
    on_air: dict[str | None, str] = {}
    for body in playlists:
        for entry in body["entries"]:
            start, end = (datetime.fromisoformat(entry[k]) for k in ("start", "end"))
            if start <= now < end:
                for cluster in entry["clusters"]:
                    on_air[None if cluster == "*" else cluster] = entry["id"]
    return on_air


def cluster_states(
    session: Session, *, stations: list[Station], now: datetime | None = None
) -> list[ClusterState]:
    """Every cluster of these stations: online, silent when it should play, or offline."""
    now = now or utcnow()
    ids = [s.id for s in stations]
    clusters: dict[int, list[Cluster]] = {}
    for cluster in session.exec(
        select(Cluster).where(col(Cluster.station_id).in_(ids)).order_by(col(Cluster.code))
    ):
        clusters.setdefault(cluster.station_id, []).append(cluster)
    beats: dict[tuple[int, str | None], DeviceStatus] = {}
    for status in session.exec(
        select(DeviceStatus)
        .where(col(DeviceStatus.station_id).in_(ids))
        .order_by(col(DeviceStatus.seen_at))
    ):
        beats[(status.station_id, status.cluster)] = status  # the freshest device wins
    out = []
    for station in stations:
        on_air = _expected_now(session, station, now)
        targets = [(c.code, c.name) for c in clusters.get(station.id, [])] or [(None, station.name)]
        for code, name in targets:
            beat = beats.get((station.id, code)) or beats.get((station.id, None))
            due = on_air.get(code) or on_air.get(None)
            out.append(_judge(station.code, code, name, beat, due, now))
    return out


def _judge(
    station: str,
    code: str | None,
    name: str,
    beat: DeviceStatus | None,
    due: str | None,
    now: datetime,
) -> ClusterState:
    state = ClusterState(station=station, cluster=code, name=name, state="unknown", reason="")
    if beat is None:
        state.state, state.reason = "unknown", "chưa có thiết bị nào báo trạng thái"
        return state
    state.seen_at, state.volume = beat.seen_at, beat.volume
    state.playing_entry_id, state.cache_fill = beat.playing_entry_id, beat.cache_fill
    state.software_version = beat.software_version
    if now - beat.seen_at > OFFLINE_AFTER or not beat.online:
        minutes = int((now - beat.seen_at).total_seconds() // 60)
        state.state, state.reason = "offline", f"mất liên lạc {minutes} phút"
    elif due is not None and (beat.playing_entry_id is None or beat.volume == 0):
        state.state = "silent"
        state.reason = "đang trong giờ phát nhưng loa im" + (
            " (âm lượng 0)" if beat.volume == 0 else ""
        )
    elif beat.playing_entry_id is not None:
        state.state, state.reason = "playing", "đang phát"
    else:
        state.state, state.reason = "idle", "trực tuyến, ngoài giờ phát"
    return state
