"""Live sessions: a commune speaks now and the chosen clusters hear it within seconds.

A session is kept as a programme (its one part says it is live and holds its state),
so it needs no table of its own and, once archived, can be booked again like any
recording. It goes through three steps, each one function here:

- `start_live`: checked (title, priority, targets, no other open session on the same
  clusters), kept, nothing airs yet;
- `go_on_air`: the first segment of its stream is out: booked as a live relay from now
  through the booking workflow (so checks, displacement and playlists are the usual
  ones) and the targeted devices are told at once with a `live` event;
- `end_live`: the booking is cut to the real length, devices get `live_end`, and what
  was received is archived in the content-addressed store (`archive_live`).

The caller commits; the stream itself is cut by `audio.live.HlsCutter`.
"""

import secrets
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlmodel import Session, col, select

from audio.models import AssetOrigin, AudioAsset, Programme
from audio.service import store_upload
from audio.store import MediaStore
from content.models import Priority
from core.clock import utcnow
from core.errors import ConflictError, InvalidError, NotFoundError, refuse_fields
from scheduler import flows
from scheduler.announcements import (
    check_request,
    programme_title,
    shares_clusters,
    target_clusters,
)
from scheduler.events import LIVE, LIVE_END, publish_bulletin
from scheduler.models import Booking, Station
from scheduler.recurrence import Recurrence, rule_to_json
from scheduler.service import render_settings, station_now
from scheduler.windows import parse_windows, windows_on

PART = "live"
DEFAULT_MINUTES = 15
MAX_MINUTES = 120


@dataclass
class Live:
    """A live session: its programme row, state and, once on air, its booking."""

    programme: Programme
    station: Station
    booking: Booking | None = None

    @property
    def state(self) -> dict[str, Any]:
        """The session's part: title, priority, targets, key and times."""
        return self.programme.parts[0]

    @property
    def status(self) -> str:
        """waiting (for its stream), on_air or ended."""
        if self.state.get("ended_at"):
            return "ended"
        return "on_air" if self.state.get("on_air_at") else "waiting"

    def deadline(self) -> datetime:
        """When the session's slot is over, whatever the stream does."""
        since = self.state.get("on_air_at") or self.state["started_at"]
        return datetime.fromisoformat(since) + timedelta(minutes=self.state["minutes"])

    def is_open(self, now: datetime) -> bool:
        """Whether it still holds its clusters."""
        return self.status != "ended" and now < self.deadline()


def listen_path(key: str) -> str:
    """Where players open a session's stream (the key is the only secret: players such as
    ffmpeg or a hardware receiver open relays without a token)."""
    return f"/api/v1/live/{key}/index.m3u8"


def _update(live: Live, **changes: Any) -> None:
    # A JSON column is saved when it is given a new value, not when a dict inside changes.
    live.programme.parts = [{**live.state, **changes}]


def _lives(session: Session, *, station: Station) -> list[Live]:
    found = session.exec(
        select(Programme).where(
            Programme.station_id == station.id,
            col(Programme.asset_sha256).is_(None),
            col(Programme.assembled_at).is_(None),
        )
    )
    return [Live(p, station) for p in found if p.parts and p.parts[0].get("kind") == PART]


def start_live(
    session: Session,
    *,
    station: Station,
    title: str,
    priority: str,
    author: str,
    clusters: list[str] | None = None,
    zones: list[str] | None = None,
    base_url: str,
    minutes: int | None = None,
) -> Live:
    """Keep a new live session waiting for its stream; 409 while another open session
    holds one of its clusters, or when it could not be booked from now (the clashes
    listed, as for any booking). Without `minutes` it lasts DEFAULT_MINUTES, cut to the
    end of the window it goes on air in."""
    clusters, zones, title = sorted(set(clusters or [])), sorted(set(zones or [])), title.strip()
    check_request(
        session, station=station, title=title, priority=priority, clusters=clusters, zones=zones
    )
    fitted = minutes is None
    minutes = DEFAULT_MINUTES if minutes is None else minutes
    if not 1 <= minutes <= MAX_MINUTES:
        refuse_fields("Phiên trực tiếp không hợp lệ", [("minutes", f"từ 1 đến {MAX_MINUTES}")])
    # One open session per cluster: the station row is the lock two requests queue on.
    session.exec(select(Station.id).where(Station.id == station.id).with_for_update()).first()
    targets = target_clusters(session, station=station, clusters=clusters, zones=zones)
    now = utcnow()
    for other in _lives(session, station=station):
        held = other.state["targets"]
        if other.is_open(now) and shares_clusters(targets, held):
            raise ConflictError(
                f"Đang có phiên trực tiếp «{other.state['title']}» trên cụm loa "
                f"{', '.join(held)} của đài {station.code}; hãy kết thúc phiên đó trước.",
                errors=[
                    {"field": "clusters", "msg": "đang phát trực tiếp", "live": other.programme.id}
                ],
            )
    state = {
        "kind": PART,
        "key": secrets.token_urlsafe(24),
        "title": title,
        "priority": priority,
        "clusters": clusters,
        "zones": zones,
        "targets": sorted(targets),
        "minutes": minutes,
        "fitted": fitted,
        "started_at": now.isoformat(),
        "on_air_at": None,
        "ended_at": None,
        "booking_id": None,
        "archive_error": None,
    }
    state["minutes"] = _minutes_from(station, state, station_now(station))
    programme = Programme(
        station_id=station.id,
        title=programme_title(session, station=station, title=title, what="trực tiếp"),
        parts=[state],
        created_by=author,
    )
    session.add(programme)
    session.flush()
    live = Live(programme, station)
    _try_booking(session, live=live, base_url=base_url)
    return live


def _minutes_from(station: Station, state: dict[str, Any], now: datetime) -> int:
    # "Tell the villages now" at 06:20 in a 05:30-06:30 window: a session of the default
    # length is cut to the window's 10 minutes left rather than refused. A length the
    # speaker chose is kept, and refused if it does not fit, as any booking is.
    minutes = state["minutes"]
    if not state.get("fitted") or state["priority"] == Priority.emergency:
        return minutes  # an emergency is not held to the windows
    at = now.replace(second=0, microsecond=0)
    for window in windows_on(parse_windows(station.windows), now.weekday()):
        if window.start <= at.time() < window.end:
            left = datetime.combine(at.date(), window.end, at.tzinfo) - at
            return max(1, min(minutes, int(left.total_seconds() // 60)))
    return minutes


def _booking(live: Live, *, base_url: str) -> Booking:
    # Normal and priority both wait for what plays to end; emergency interrupts it. A
    # live session airs now, so it joins today's playlist even when it is frozen.
    state = live.state
    now = station_now(live.station)
    priority = Priority.emergency if state["priority"] == Priority.emergency else Priority.priority
    return Booking(
        station_id=live.station.id,
        clusters=state["clusters"],
        zones=state["zones"],
        source="live",
        programme_id=live.programme.id,
        relay_url=base_url + listen_path(state["key"]),
        title=state["title"],
        duration_s=_minutes_from(live.station, state, now) * 60,
        at=f"{now:%H:%M}",
        priority=priority,
        recurrence=rule_to_json(Recurrence(freq="once", start=now.date())),
        created_by=live.programme.created_by,
    )


def _try_booking(session: Session, *, live: Live, base_url: str) -> None:
    # Booked as if it went on air now, then undone: a session that could not air (outside
    # the windows, over a cap, a clash) is refused before anyone speaks into it.
    nested = session.begin_nested()
    try:
        flows.book(session, booking=_booking(live, base_url=base_url), base_url=base_url)
    finally:
        nested.rollback()


def get_live(session: Session, *, station: Station, live_id: int) -> Live:
    """A live session of the station; 404 when there is none."""
    programme = session.get(Programme, live_id)
    if (
        programme is None
        or programme.station_id != station.id
        or not programme.parts
        or programme.parts[0].get("kind") != PART
    ):
        raise NotFoundError(f"Đài {station.code} không có phiên trực tiếp số {live_id}.")
    live = Live(programme, station)
    if live.state.get("booking_id"):
        live.booking = session.get(Booking, live.state["booking_id"])
    return live


def go_on_air(session: Session, *, live: Live, base_url: str) -> Live:
    """Book the session from now as a live relay and tell the targeted devices at once."""
    if live.status != "waiting":
        return live
    if not live.is_open(utcnow()):
        raise ConflictError("Phiên trực tiếp đã quá thời lượng đặt trước; hãy mở phiên mới.")
    station = live.station
    now = station_now(station)
    booked = flows.book(session, booking=_booking(live, base_url=base_url), base_url=base_url)
    publish_bulletin(
        session,
        booking_id=booked.booking.id,
        station_ids=[station.id],
        days=[now.date()],
        kind=LIVE,
        extra={"live": live.programme.id},
    )
    _update(
        live,
        on_air_at=utcnow().isoformat(),
        booking_id=booked.booking.id,
        minutes=round(booked.booking.duration_s / 60),
    )
    live.booking = booked.booking
    session.add(live.programme)
    return live


def end_live(session: Session, *, live: Live, base_url: str) -> Live:
    """Cut the session's booking to its real length and tell the devices it ended.

    Ending an ended session changes nothing, so a retried request is harmless."""
    if live.status == "ended":
        return live
    ended = utcnow()
    _update(live, ended_at=ended.isoformat())
    session.add(live.programme)
    booking = live.booking
    if booking is None or booking.status != "active":
        return live
    # The booking lasts what was on air; its slot begins on the whole minute before (a
    # booking's time is a minute), so the playlist may show it earlier than it was.
    seconds = max(
        1.0, round((ended - datetime.fromisoformat(live.state["on_air_at"])).total_seconds(), 1)
    )
    if seconds < (booking.duration_s or 0):
        flows.change_booking(
            session, booking=booking, changes={"duration_s": seconds}, base_url=base_url
        )
    day = date.fromisoformat(booking.recurrence["start"])
    publish_bulletin(
        session,
        booking_id=booking.id,
        station_ids=[live.station.id],
        days=[day],
        kind=LIVE_END,
        extra={"live": live.programme.id, "ended_at": ended.isoformat()},
    )
    return live


def archive_live(session: Session, *, live: Live, store: MediaStore, received: Path) -> Live:
    """Keep what the session received, validated and normalised like any recording, as
    the audio of its programme; a stream that is no usable audio is noted, not kept."""
    if live.programme.asset_sha256 or not received.exists() or received.stat().st_size == 0:
        return live
    try:
        _original, copy = store_upload(
            session,
            store=store,
            upload=received,
            origin=AssetOrigin.recording,
            settings=render_settings(live.station),
        )
    except InvalidError as exc:
        _update(live, archive_error=exc.detail)
        session.add(live.programme)
        return live
    live.programme.asset_sha256 = copy.sha256
    live.programme.assembled_at = utcnow()
    session.add(live.programme)
    return live


def archived(session: Session, *, live: Live) -> AudioAsset | None:
    """The session's archived audio, once it ended."""
    sha = live.programme.asset_sha256
    return session.get(AudioAsset, sha) if sha else None
