"""The playlist devices read names the station's fallback, so a device can fill dead air;
a change of fallback reaches devices even on a frozen day with no empty window."""

from datetime import UTC, date, datetime, timedelta

from sqlmodel import select

from core.db import session_scope
from scheduler.models import Booking, Playlist, Station, StationKind
from scheduler.playlists import generate_playlists, playlist_document
from scheduler.recurrence import Recurrence, rule_to_json
from scheduler.service import create_station, update_station

DAY = date(2030, 1, 21)
BASE = "http://truyenthanh.test"
BEFORE = datetime(2030, 1, 1, tzinfo=UTC)  # nothing is frozen yet
FROZEN = datetime(2030, 1, 20, 23, 0, tzinfo=UTC)  # 06:00 local: inside the day's window
VOV1 = {"kind": "relay", "url": "http://vov.example/vov1", "title": "Tiếp sóng VOV1"}


def _station(engine) -> None:
    """A window filled wall to wall by one relay: the generator has no hole to fill."""
    with session_scope(engine) as session:
        create_station(session, code="TINH-F", name="Tỉnh F", kind=StationKind.province)
        station = create_station(
            session, code="XA-F", name="Xã F", kind=StationKind.commune, parent_code="TINH-F"
        )
        station.windows = [{"days": list(range(7)), "start": "05:30", "end": "06:30"}]
        session.add(
            Booking(
                station_id=station.id,
                source="relay",
                relay_url="http://vov.example/tinh",
                duration_s=3600.0,
                title="Thời sự tỉnh",
                at="05:30",
                recurrence=rule_to_json(Recurrence(freq="once", start=DAY)),
                created_by="kehoach",
            )
        )


def _pull(engine, now: datetime, *, fallback: dict | str | None = "keep") -> tuple:
    with session_scope(engine, write=True) as session:
        station = session.exec(select(Station).where(Station.code == "XA-F")).one()
        if fallback != "keep":
            update_station(session, station=station, changes={"fallback": fallback})
        [playlist] = generate_playlists(
            session, station=station, days=[DAY], base_url=BASE, now=now
        )
        return playlist.etag, playlist.version, playlist_document(playlist)


def test_the_playlist_names_the_fallback_and_a_new_one_reaches_devices(engine) -> None:
    _station(engine)
    plain, version, document = _pull(engine, BEFORE)
    assert "fallback" not in document and version == 1

    etag, version, document = _pull(engine, BEFORE, fallback=VOV1)
    assert document["fallback"] == {
        "kind": "relay",
        "title": "Tiếp sóng VOV1",
        "relay": {"url": "http://vov.example/vov1"},
    }
    assert [e["title"] for e in document["entries"]] == ["Thời sự tỉnh"], "no hole was filled"
    assert (etag, version) != (plain, 1), "devices holding the old ETag pull it again"
    assert _pull(engine, BEFORE)[:2] == (etag, version), "the same fallback, the same bytes"

    # Without a fallback the ETag is what it always was: stations without one see no change.
    etag, _, document = _pull(engine, BEFORE, fallback=None)
    assert "fallback" not in document and etag == plain

    # Frozen: the bookings are set, but a new fallback still reaches the devices.
    _pull(engine, FROZEN)
    with session_scope(engine) as session:
        assert session.exec(select(Playlist.frozen_at)).one() is not None
    moved = {**VOV1, "url": "http://vov.example/vov2", "title": "Tiếp sóng VOV2"}
    _, _, document = _pull(engine, FROZEN + timedelta(minutes=1), fallback=moved)
    assert document["frozen"] is True
    assert document["fallback"]["relay"] == {"url": "http://vov.example/vov2"}
