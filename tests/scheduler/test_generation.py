"""Set-based playlist generation: same playlists as station by station, writes only changes,
and gaps reported (or filled) per loudspeaker cluster."""

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, date, datetime, timedelta
from typing import Any

from sqlalchemy import delete, event
from sqlmodel import Session, select

from core.db import session_scope
from scheduler.models import Booking, Playlist, Station, StationKind
from scheduler.playlists import (
    generate_playlist,
    generate_playlists,
    generate_stations,
)
from scheduler.recurrence import Recurrence, rule_to_json
from scheduler.service import add_cluster, create_station

MONDAY = date(2030, 1, 21)
WEEK = [MONDAY + timedelta(days=offset) for offset in range(7)]
LAST_FRIDAY = date(2030, 1, 25)  # 31 January 2030 is a Thursday
BASE = "http://truyenthanh.test"
NOW = datetime(2030, 1, 1, tzinfo=UTC)  # nothing of that week is frozen yet
WINDOWS = [
    {"days": [0, 1, 2, 3, 4, 5, 6], "start": "05:30", "end": "06:30"},
    {"days": [0, 1, 2, 3, 4], "start": "17:00", "end": "17:45"},
]
FALLBACK = {"kind": "relay", "url": "http://vov.example/vov1", "title": "Tiếp sóng VOV1"}


def _relay(station: Station, title: str, *, at: str | None, rule: Recurrence, **more) -> Booking:
    return Booking(
        station_id=station.id,
        source="relay",
        relay_url="http://vov.example/tinh",
        duration_s=more.pop("duration_s", 300.0),
        title=title,
        at=at,
        recurrence=rule_to_json(rule),
        created_by="kehoach",
        **more,
    )


def _weekly(*weekdays: int) -> Recurrence:
    return Recurrence(freq="weekly", start=MONDAY, weekdays=weekdays)


def _station(session: Session, code: str, kind: StationKind, parent: str | None) -> Station:
    station = create_station(session, code=code, name=f"Đài {code}", kind=kind, parent_code=parent)
    station.windows = WINDOWS
    return station


def _tree(engine) -> None:
    """Two provinces; a district with two communes, a commune right under the province."""
    with session_scope(engine) as session:
        p = _station(session, "TINH-P", StationKind.province, None)
        d = _station(session, "HUYEN-D", StationKind.district, "TINH-P")
        a = _station(session, "XA-A", StationKind.commune, "HUYEN-D")
        b = _station(session, "XA-B", StationKind.commune, "HUYEN-D")
        c = _station(session, "XA-C", StationKind.commune, "TINH-P")
        q = _station(session, "TINH-Q", StationKind.province, None)
        _station(session, "XA-E", StationKind.commune, "TINH-Q")
        for code in ("BAN-A", "BAN-B", "BAN-C"):
            add_cluster(session, station=a, code=code, name=f"Bản {code}", zone_tags=[])
        session.add_all(
            [
                _relay(p, "Thời sự tỉnh", at="05:30", rule=_weekly(0, 3), subtree=True),
                _relay(d, "Tin huyện", at="17:10", rule=_weekly(0, 1, 2, 3, 4), subtree=True),
                _relay(a, "Tin xã A", at=None, rule=Recurrence(freq="daily", start=MONDAY)),
                _relay(a, "Thông báo bản B", at="17:20", rule=_weekly(0, 2), clusters=["BAN-B"]),
                _relay(
                    b,
                    "Hằng tháng",
                    at="17:00",
                    rule=Recurrence(freq="monthly", start=MONDAY, nth=-1, weekdays=(4,)),
                ),
                _relay(
                    b,
                    "Tin ưu tiên",
                    at="05:30",
                    priority="priority",
                    rule=Recurrence(freq="once", start=MONDAY),
                ),
                _relay(c, "Tin xã C", at="06:00", rule=Recurrence(freq="daily", start=MONDAY)),
                _relay(q, "Thời sự tỉnh Q", at="05:30", rule=_weekly(0, 3), subtree=True),
            ]
        )


def _playlists(engine) -> dict[tuple[str, date], dict[str, Any]]:
    with Session(engine) as session:
        codes = {s.id: s.code for s in session.exec(select(Station))}
        return {
            (codes[p.station_id], p.day): {
                "version": p.version,
                "etag": p.etag,
                "body": p.body,
                "gaps": p.gaps,
                "generated_at": p.generated_at,
                "frozen_at": p.frozen_at,
            }
            for p in session.exec(select(Playlist))
        }


def _titles(playlist: dict[str, Any]) -> list[tuple[str, str, list[str]]]:
    return [(e["start"][11:16], e["title"], e["clusters"]) for e in playlist["body"]["entries"]]


def _generate_all(engine, now: datetime = NOW) -> int:
    with session_scope(engine, write=True) as session:
        return generate_stations(session, station_ids=None, days=WEEK, base_url=BASE, now=now)


@contextmanager
def _statements(engine) -> Iterator[list[str]]:
    seen: list[str] = []

    def record(_conn, _cursor, statement, _params, _context, _many) -> None:
        seen.append(" ".join(statement.split()).lower())

    event.listen(engine, "before_cursor_execute", record)
    try:
        yield seen
    finally:
        event.remove(engine, "before_cursor_execute", record)


def test_bulk_generation_gives_the_same_playlists_as_station_by_station(engine) -> None:
    _tree(engine)
    with session_scope(engine) as session:
        for station in session.exec(select(Station).order_by(Station.id)):
            generate_playlists(session, station=station, days=WEEK, base_url=BASE, now=NOW)
    one_by_one = _playlists(engine)
    with session_scope(engine) as session:
        session.execute(delete(Playlist))

    assert _generate_all(engine) == 7 * 7
    assert _playlists(engine) == one_by_one

    playlists = one_by_one
    # Subtree bookings reach every station below their target, and only those.
    assert ("05:30", "Thời sự tỉnh", ["*"]) in _titles(playlists["XA-C", MONDAY])
    assert ("17:10", "Tin huyện", ["*"]) in _titles(playlists["XA-A", MONDAY])
    assert "Tin huyện" not in str(_titles(playlists["XA-C", MONDAY]))
    assert [t for _, t, _ in _titles(playlists["XA-E", MONDAY])] == ["Thời sự tỉnh Q"]
    # Window placement after the fixed-time entry; the cluster booking only on its cluster.
    assert _titles(playlists["XA-A", MONDAY]) == [
        ("05:30", "Thời sự tỉnh", ["*"]),
        ("05:35", "Tin xã A", ["*"]),
        ("17:10", "Tin huyện", ["*"]),
        ("17:20", "Thông báo bản B", ["BAN-B"]),
    ]
    # The priority bulletin displaces the province news at XA-B on Monday.
    assert _titles(playlists["XA-B", MONDAY])[0] == ("05:30", "Tin ưu tiên", ["*"])
    assert "Thời sự tỉnh" not in str(_titles(playlists["XA-B", MONDAY]))
    # "Last Friday of the month" airs on 25 January only.
    monthly = [day for day in WEEK if "Hằng tháng" in str(_titles(playlists["XA-B", day]))]
    assert monthly == [LAST_FRIDAY]
    assert {p["version"] for p in playlists.values()} == {1}


def test_a_second_run_with_nothing_changed_writes_nothing(engine) -> None:
    _tree(engine)
    _generate_all(engine)
    before = _playlists(engine)
    with _statements(engine) as seen:
        assert _generate_all(engine, now=NOW + timedelta(hours=5)) == 49
    writes = [s for s in seen if s.startswith(("insert", "update")) and "playlist" in s]
    assert writes == []
    assert _playlists(engine) == before, "versions and generated_at stay where they were"


def test_editing_one_booking_changes_only_the_playlists_it_touches(engine) -> None:
    _tree(engine)
    _generate_all(engine)
    before = _playlists(engine)
    later = NOW + timedelta(hours=1)

    with session_scope(engine) as session:
        booking = session.exec(select(Booking).where(Booking.title == "Thông báo bản B")).one()
        booking.at = "17:30"
    _generate_all(engine, now=later)
    after = _playlists(engine)
    changed = {key for key in after if after[key] != before[key]}
    assert changed == {("XA-A", MONDAY), ("XA-A", MONDAY + timedelta(days=2))}
    for key in changed:
        assert (after[key]["version"], after[key]["generated_at"]) == (2, later)
        assert after[key]["etag"] != before[key]["etag"]

    with session_scope(engine) as session:
        booking = session.exec(select(Booking).where(Booking.title == "Tin huyện")).one()
        booking.title = "Tin huyện (mới)"
    _generate_all(engine, now=later + timedelta(hours=1))
    again = _playlists(engine)
    changed = {key for key in again if again[key] != after[key]}
    # The district booking reaches the district and both its communes on weekdays.
    assert changed == {(code, day) for code in ("HUYEN-D", "XA-A", "XA-B") for day in WEEK[:5]}


def test_gaps_made_before_per_cluster_reports_are_rewritten_without_a_new_version(
    engine,
) -> None:
    _tree(engine)
    _generate_all(engine)
    before = _playlists(engine)
    with session_scope(engine) as session:
        for playlist in session.exec(select(Playlist)):
            playlist.gaps = [{k: v for k, v in g.items() if k != "clusters"} for g in playlist.gaps]
    _generate_all(engine, now=NOW + timedelta(hours=1))
    assert _playlists(engine) == before, "gaps back with their clusters, nothing else moved"


def test_a_playlist_already_loaded_in_the_session_is_read_again(engine) -> None:
    _tree(engine)
    _generate_all(engine)
    with session_scope(engine) as session:
        station = session.exec(select(Station).where(Station.code == "XA-C")).one()
        held = session.exec(
            select(Playlist).where(Playlist.station_id == station.id, Playlist.day == MONDAY)
        ).one()
        assert held.version == 1
        booking = session.exec(select(Booking).where(Booking.title == "Tin xã C")).one()
        booking.at = "06:10"
        fresh = generate_playlist(session, station=station, day=MONDAY, base_url=BASE, now=NOW)
        assert fresh is held
        assert fresh.version == 2
        assert "T06:10:00" in str(fresh.body["entries"])


def test_today_is_each_stations_own_local_date(engine) -> None:
    with session_scope(engine) as session:
        create_station(session, code="TINH-VN", name="Hà Nội", kind=StationKind.province)
        create_station(
            session, code="TINH-JP", name="Tokyo", kind=StationKind.province, timezone="Asia/Tokyo"
        )
    now = datetime(2030, 1, 20, 16, 30, tzinfo=UTC)  # 23:30 in Hà Nội, 01:30 next day in Tokyo
    with session_scope(engine) as session:
        assert generate_stations(session, station_ids=None, days_ahead=2, base_url=BASE, now=now)
    days = {(code, day) for code, day in _playlists(engine)}
    assert days == {
        ("TINH-VN", date(2030, 1, 20)),
        ("TINH-VN", date(2030, 1, 21)),
        ("TINH-JP", date(2030, 1, 21)),
        ("TINH-JP", date(2030, 1, 22)),
    }


def test_a_frozen_day_keeps_what_devices_hold_and_takes_only_urgent_entries(engine) -> None:
    _tree(engine)
    # 04:00 on Monday in Hà Nội: Monday (first session 05:30, lead 2 h) froze, Tuesday not.
    freezing = datetime(2030, 1, 20, 21, 0, tzinfo=UTC)
    _generate_all(engine, now=freezing)
    frozen = _playlists(engine)
    assert frozen["XA-C", MONDAY]["frozen_at"] == freezing
    assert frozen["XA-C", MONDAY + timedelta(days=1)]["frozen_at"] is None
    with session_scope(engine) as session:
        c = session.exec(select(Station).where(Station.code == "XA-C")).one()
        daily = Recurrence(freq="daily", start=MONDAY)
        session.add(_relay(c, "Tin thường muộn", at="17:30", rule=daily))
        session.add(_relay(c, "Khẩn cấp", at="06:00", priority="emergency", rule=daily))
    _generate_all(engine, now=freezing + timedelta(minutes=30))
    after = _playlists(engine)
    assert _titles(after["XA-C", MONDAY]) == [
        ("05:30", "Thời sự tỉnh", ["*"]),
        ("06:00", "Khẩn cấp", ["*"]),  # pushes out the normal 06:00 entry devices held
    ]
    assert after["XA-C", MONDAY]["version"] == 2
    assert after["XA-C", MONDAY]["frozen_at"] == freezing
    tuesday = [t for _, t, _ in _titles(after["XA-C", MONDAY + timedelta(days=1)])]
    assert tuesday == ["Khẩn cấp", "Tin thường muộn"]


def _commune_with_clusters(engine, *, fallback: dict[str, Any] | None) -> None:
    with session_scope(engine) as session:
        create_station(session, code="TINH-K", name="Tỉnh K", kind=StationKind.province)
        station = create_station(
            session, code="XA-K", name="Xã K", kind=StationKind.commune, parent_code="TINH-K"
        )
        station.windows = [{"days": [0, 1, 2, 3, 4, 5, 6], "start": "05:30", "end": "06:30"}]
        station.fallback = fallback
        for code in ("BAN-A", "BAN-B", "BAN-C"):
            add_cluster(session, station=station, code=code, name=code, zone_tags=[])
        once = Recurrence(freq="once", start=MONDAY)
        session.add(_relay(station, "Bản B", at="05:40", rule=once, clusters=["BAN-B"]))
        session.add(_relay(station, "Cả xã", at="06:00", rule=once, duration_s=600.0))


def _monday(engine, code: str = "XA-K") -> dict[str, Any]:
    with session_scope(engine) as session:
        generate_stations(session, station_ids=None, days=[MONDAY], base_url=BASE, now=NOW)
    return _playlists(engine)[code, MONDAY]


def test_gaps_name_the_clusters_left_silent(engine) -> None:
    _commune_with_clusters(engine, fallback=None)
    playlist = _monday(engine)
    assert [(g["start"][11:16], g["end"][11:16], g["clusters"]) for g in playlist["gaps"]] == [
        ("05:30", "05:40", ["*"]),
        ("05:40", "05:45", ["BAN-A", "BAN-C"]),  # only BAN-B hears the booking
        ("05:45", "06:00", ["*"]),
        ("06:10", "06:30", ["*"]),
    ]
    assert all(g["reason"] for g in playlist["gaps"])


def test_the_fallback_fills_exactly_the_silent_clusters(engine) -> None:
    _commune_with_clusters(engine, fallback=FALLBACK)
    playlist = _monday(engine)
    assert playlist["gaps"] == []
    assert sorted(_titles(playlist)) == [
        ("05:30", "Tiếp sóng VOV1", ["*"]),
        ("05:40", "Bản B", ["BAN-B"]),
        ("05:40", "Tiếp sóng VOV1", ["BAN-A", "BAN-C"]),
        ("05:45", "Tiếp sóng VOV1", ["*"]),
        ("06:00", "Cả xã", ["*"]),
        ("06:10", "Tiếp sóng VOV1", ["*"]),
    ]
    entries = playlist["body"]["entries"]
    partial = next(e for e in entries if e["clusters"] == ["BAN-A", "BAN-C"])
    assert partial["end"][11:16] == "05:45"
    assert partial["relay"] == {"url": FALLBACK["url"]}
    assert len({e["id"] for e in entries}) == len(entries)
    # Deterministic: the same bookings give the same entries and leave the version alone.
    assert _monday(engine)["body"] == playlist["body"]
    assert _monday(engine)["version"] == 1


def test_whole_station_bookings_never_read_the_clusters(engine) -> None:
    _tree(engine)
    with session_scope(engine) as session:
        session.execute(delete(Booking).where(Booking.title == "Thông báo bản B"))
    with _statements(engine) as seen:
        _generate_all(engine)
    assert not [s for s in seen if "from cluster" in s]
    playlists = _playlists(engine)
    gaps = [g for p in playlists.values() for g in p["gaps"]]
    assert gaps and all(g["clusters"] == ["*"] for g in gaps)


def test_a_moment_is_written_in_its_own_zone_though_another_zone_wrote_that_instant() -> None:
    from datetime import UTC, datetime
    from zoneinfo import ZoneInfo

    from scheduler.planner import moment_text

    hanoi = datetime(2030, 1, 7, 5, 30, tzinfo=ZoneInfo("Asia/Ho_Chi_Minh"))
    assert moment_text(hanoi) == "2030-01-07T05:30:00+07:00"
    same_instant = hanoi.astimezone(UTC)
    assert same_instant == hanoi
    assert moment_text(same_instant) == "2030-01-06T22:30:00+00:00"
    assert moment_text(hanoi.astimezone(ZoneInfo("Asia/Tokyo"))) == "2030-01-07T07:30:00+09:00"
