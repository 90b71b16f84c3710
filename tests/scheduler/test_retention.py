"""Retention: a province's policy, the nightly purge, and a chain that still verifies after it."""

import json
import uuid
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError
from sqlmodel import Session, func, select
from typer.testing import CliRunner

import scheduler.retention
from api.cli import app
from api.routes.bookings import RecurrenceIn
from audio.models import AssetOrigin, AudioAsset, Programme, Recording
from audio.store import MediaStore
from core.audit import Actor
from core.clock import utcnow
from core.db import session_scope
from core.identity import create_user, issue_access_token
from core.models import AuditEvent, Role
from scheduler.airings import checkpoint_signature, ingest_airings, verify_chain
from scheduler.bookings import create_booking
from scheduler.compliance import Period, Scope, compliance
from scheduler.jobs import build_scheduler, purge_retention
from scheduler.models import (
    AiringCheckpoint,
    AiringIn,
    AiringPurgePermit,
    AiringRecord,
    AiringTally,
    Booking,
    MissedAiring,
    Playlist,
    RetentionPolicy,
    Station,
    StationKind,
)
from scheduler.playlists import generate_playlist
from scheduler.retention import purge_expired
from scheduler.service import add_cluster, create_station, get_station
from tests.newsroom import approved_item
from tests.processes import cli_env

ZONE = ZoneInfo("Asia/Ho_Chi_Minh")
WINDOWS = [{"days": [0, 1, 2, 3, 4, 5, 6], "start": "05:30", "end": "06:30"}]
DAYS = 10


def cli(*args: str, env: dict[str, str]):
    """Run `truyenthanh ARGS` in this process (no interpreter start-up to wait for)."""
    return CliRunner().invoke(app, list(args), env=env)


def _today() -> date:
    return utcnow().astimezone(ZONE).date()


def expired_before(days_ago: int) -> datetime:
    """A purge moment at which, under the default policy, days before `days_ago` are past it."""
    return utcnow() + timedelta(days=730 - days_ago)


def province(engine) -> None:
    """TINH-P over two communes, XA-A with clusters BAN-A and BAN-B; no people needed."""
    with session_scope(engine) as session:
        create_station(session, code="TINH-P", name="Tỉnh P", kind=StationKind.province)
        for code in ("XA-A", "XA-B"):
            create_station(
                session,
                code=code,
                name=f"Đài xã {code[-1]}",
                kind=StationKind.commune,
                parent_code="TINH-P",
            )
        xa = get_station(session, code="XA-A")
        for cluster in ("BAN-A", "BAN-B"):
            add_cluster(session, station=xa, code=cluster, name=f"Cụm {cluster}", zone_tags=[])


def relay_every_day(engine, base_url: str, codes: tuple[str, ...]) -> None:
    """Give the stations a daily 05:30 relay from well before the logged days."""
    start = _today() - timedelta(DAYS + 2)
    with session_scope(engine) as session:
        for code in codes:
            station = get_station(session, code=code)
            station.windows = WINDOWS
            booking = Booking(
                station_id=station.id,
                source="relay",
                relay_url="http://vov.example/vov1",
                duration_s=600,
                title="Tiếp sóng VOV1",
                at="05:30",
                recurrence=RecurrenceIn(freq="daily", start=start).model_dump(mode="json"),
                created_by="alice",
            )
            create_booking(session, booking=booking, base_url=base_url, today=start)


def entries(engine, base_url: str, code: str, days_ago: range) -> dict[int, dict]:
    """The relay entry of each past day, from playlists generated for those days."""
    out = {}
    with session_scope(engine) as session:
        station = get_station(session, code=code)
        for back in days_ago:
            playlist = generate_playlist(
                session, station=station, day=_today() - timedelta(back), base_url=base_url
            )
            out[back] = playlist.body["entries"][0]
    return out


def log(engine, code: str, entry: dict, *, cluster: str | None, received: datetime | None = None):
    """Append one aired record, received an hour after its slot unless said otherwise."""
    start = datetime.fromisoformat(entry["start"])
    record = AiringIn(
        id=uuid.uuid4().hex,
        entry_id=entry["id"],
        cluster=cluster,
        started_at=start + timedelta(seconds=2),
        ended_at=start + timedelta(seconds=602),
        status="aired",
    )
    with session_scope(engine, write=True) as session:
        station = get_station(session, code=code)
        report = ingest_airings(
            session,
            station=station,
            records=[record],
            source="device",
            recorded_by="test",
            now=received or start + timedelta(hours=1),
        )
    assert report.accepted == [record.id], report.rejected


@dataclass
class Logged:
    """Ten days of logs at two communes, and the key the purge signs with."""

    key: str
    a: dict[int, dict]
    b: dict[int, dict]


@pytest.fixture
def logged(engine, settings) -> Logged:
    """XA-A: BAN-A reported days 10..1 ago (seq 1-10), then a late BAN-B report for 9 days
    ago arriving 2 days ago (seq 11). XA-B: station-wide reports days 10..1 ago."""
    province(engine)
    relay_every_day(engine, settings.public_base_url, ("XA-A", "XA-B"))
    a = entries(engine, settings.public_base_url, "XA-A", range(DAYS, 0, -1))
    b = entries(engine, settings.public_base_url, "XA-B", range(DAYS, 0, -1))
    for back in range(DAYS, 0, -1):
        log(engine, "XA-A", a[back], cluster="BAN-A")
        log(engine, "XA-B", b[back], cluster=None)
    late = datetime.fromisoformat(a[2]["start"]) + timedelta(hours=1)
    log(engine, "XA-A", a[9], cluster="BAN-B", received=late)
    return Logged(settings.signing_key, a, b)


def _station(session: Session, code: str) -> Station:
    return session.exec(select(Station).where(Station.code == code)).one()


def _seqs(engine, code: str) -> list[int]:
    with Session(engine) as session:
        station = _station(session, code)
        return list(
            session.exec(
                select(AiringRecord.seq)
                .where(AiringRecord.station_id == station.id)
                .order_by(AiringRecord.seq)
            )
        )


def _verify(engine, code: str, key: str | None):
    with Session(engine) as session:
        return verify_chain(session, station=_station(session, code), key=key, batch=3)


def _purge(engine, settings, logged: Logged, *, days_ago: int, **extra):
    return purge_expired(
        engine,
        key=logged.key,
        store=MediaStore(settings.media_path),
        now=expired_before(days_ago),
        **extra,
    )


def _tamper(engine, sql: str, table: str = "airing_record", **params) -> None:
    # Whoever edits the log directly must first remove the database's own guard.
    with session_scope(engine) as session:
        if session.get_bind().dialect.name == "postgresql":
            session.execute(text(f"ALTER TABLE {table} DISABLE TRIGGER USER"))
            session.execute(text(sql), params)
            session.execute(text(f"ALTER TABLE {table} ENABLE TRIGGER USER"))
        else:
            session.execute(text(f"DROP TRIGGER IF EXISTS {table}_no_update"))
            session.execute(text(f"DROP TRIGGER IF EXISTS {table}_no_delete"))
            session.execute(text(sql), params)


def test_the_purge_cuts_only_the_expired_prefix_and_the_chain_still_verifies(
    engine, settings, logged
) -> None:
    with session_scope(engine) as session:
        xa = _station(session, "XA-A")
        for back in (8, 2):
            session.add(
                MissedAiring(
                    station_id=xa.id,
                    day=_today() - timedelta(back),
                    entry_id=f"occ_missed_{back}",
                    title="Tin địa phương",
                    scheduled_start=utcnow(),
                    scheduled_end=utcnow(),
                )
            )
    report = _purge(engine, settings, logged, days_ago=5)
    assert report.horizons == {"TINH-P": (_today() - timedelta(5)).isoformat()}
    by_station = {s.station: s for s in report.stations}
    assert (by_station["XA-A"].records, by_station["XA-B"].records) == (5, 5)
    assert by_station["XA-A"].first_day == _today() - timedelta(10)
    assert by_station["XA-A"].missed == 1
    # Days 10..6 ago went; the late record for 9 days ago stays: it arrived 2 days ago.
    assert _seqs(engine, "XA-A") == [6, 7, 8, 9, 10, 11]
    assert _seqs(engine, "XA-B") == [6, 7, 8, 9, 10]
    for code in ("XA-A", "XA-B"):
        check = _verify(engine, code, logged.key)
        assert (check.ok, check.records, check.purged) == (True, 5 + (code == "XA-A"), 5), check

    with Session(engine) as session:
        xa = _station(session, "XA-A")
        [checkpoint] = session.exec(
            select(AiringCheckpoint).where(AiringCheckpoint.station_id == xa.id)
        ).all()
        assert (checkpoint.first_seq, checkpoint.last_seq, checkpoint.count) == (1, 5, 5)
        assert checkpoint.purged_before == _today() - timedelta(5)
        assert (checkpoint.first_day, checkpoint.last_day) == (
            _today() - timedelta(10),
            _today() - timedelta(6),
        )
        assert session.exec(select(func.count()).select_from(AiringPurgePermit)).one() == 0
        # Tallies of purged entries went; the entry with a kept late record was recounted.
        tallies = {
            t.entry_id: t
            for t in session.exec(select(AiringTally).where(AiringTally.station_id == xa.id))
        }
        kept = {logged.a[back]["id"] for back in (9, 5, 4, 3, 2, 1)}
        assert set(tallies) == kept
        assert (tallies[logged.a[9]["id"]].aired, tallies[logged.a[9]["id"]].exact) == (1, True)
        flags = session.exec(select(MissedAiring.entry_id)).all()
        assert flags == ["occ_missed_2"]
        events = session.exec(
            select(AuditEvent).where(
                AuditEvent.object_type == "airing_record", AuditEvent.station_id == xa.id
            )
        ).all()
        assert [(e.action, e.actor_name, e.change["count"]) for e in events] == [
            ("delete", "system", 5)
        ]
        assert events[0].change["checkpoint_id"] == checkpoint.id
        assert (
            session.exec(
                select(func.count())
                .select_from(AuditEvent)
                .where(AuditEvent.object_type == "airing_checkpoint")
            ).one()
            == 2
        )

        # A report over the logged days says which units were purged, none of them missing.
        period = Period(_today() - timedelta(10), _today() - timedelta(1), "mười ngày")
        result = compliance(session, scope=Scope(station_ids=frozenset({xa.id})), period=period)
        totals = result.totals
        assert (totals.planned, totals.purged, totals.aired, totals.missing) == (20, 10, 5, 5)
        assert result.purged_before == {"XA-A": _today() - timedelta(5)}

    # Nothing more is due at the same moment: a second run changes nothing.
    again = _purge(engine, settings, logged, days_ago=5)
    assert again.records == 0 and _seqs(engine, "XA-A") == [6, 7, 8, 9, 10, 11]
    # A later run, two records per checkpoint, stops at the first record not yet due.
    later = _purge(engine, settings, logged, days_ago=1, batch=2)
    assert {s.station: s.checkpoints for s in later.stations} == {"XA-A": 2, "XA-B": 2}
    assert _seqs(engine, "XA-A") == [10, 11]
    log(engine, "XA-A", logged.a[1], cluster="BAN-B", received=utcnow())
    check = _verify(engine, "XA-A", logged.key)
    assert (check.ok, check.records, check.purged) == (True, 3, 9)


def test_an_altered_or_removed_record_or_checkpoint_is_detected(engine, settings, logged):
    _purge(engine, settings, logged, days_ago=5)
    [first, second, *_] = _seqs(engine, "XA-A")
    _tamper(engine, "UPDATE airing_record SET status = 'skipped' WHERE seq = :seq", seq=second)
    check = _verify(engine, "XA-A", logged.key)
    assert (check.ok, check.first_broken["seq"]) == (False, second)
    assert "sửa" in check.first_broken["problem"]
    _tamper(engine, "DELETE FROM airing_record WHERE seq = :seq", seq=first)
    check = _verify(engine, "XA-A", logged.key)
    assert (check.ok, check.first_broken["seq"]) == (False, first)
    assert "thiếu" in check.first_broken["problem"]
    # A checkpoint edited past its own guard loses its signature.
    _tamper(
        engine,
        "UPDATE airing_checkpoint SET count = 4, first_seq = 2 WHERE station_id = "
        "(SELECT id FROM station WHERE code = 'XA-B')",
        table="airing_checkpoint",
    )
    check = _verify(engine, "XA-B", logged.key)
    assert (check.ok, check.first_broken["seq"]) == (False, 5)
    assert "chữ ký sai" in check.first_broken["problem"]
    # Removing the checkpoints makes the purged records look deleted.
    _tamper(engine, "DELETE FROM airing_checkpoint", table="airing_checkpoint")
    check = _verify(engine, "XA-B", logged.key)
    assert (check.ok, check.first_broken["seq"]) == (False, 1)


def test_only_a_purge_deletes_and_a_forged_checkpoint_is_detected(engine, settings, logged):
    _purge(engine, settings, logged, days_ago=5)
    with Session(engine) as session:
        xa, xb = _station(session, "XA-A"), _station(session, "XA-B")
        genuine = session.exec(
            select(AiringCheckpoint).where(AiringCheckpoint.station_id == xa.id)
        ).one()
        hidden = session.exec(
            select(AiringRecord).where(AiringRecord.station_id == xa.id, AiringRecord.seq == 7)
        ).one()
    attempts = [
        ("DELETE FROM airing_record", None),
        ("DELETE FROM airing_record WHERE station_id = :s", xa.id),
        ("UPDATE airing_record SET status = 'failed'", None),
        ("DELETE FROM airing_checkpoint", None),
        ("UPDATE airing_checkpoint SET count = 0", None),
    ]
    for statement, station_id in attempts:
        with pytest.raises(DBAPIError), session_scope(engine) as session:
            session.execute(text(statement), {"s": station_id})
    # A permit lets through only what its checkpoint covers, for its own station: the
    # genuine checkpoint covers nothing that is left.
    far = _today() + timedelta(days=30)
    for permit_station in (xb.id, xa.id):
        with pytest.raises(DBAPIError), session_scope(engine) as session:
            session.add(
                AiringPurgePermit(
                    station_id=permit_station, checkpoint_id=genuine.id, before_day=far
                )
            )
            session.flush()
            session.execute(
                text("DELETE FROM airing_record WHERE station_id = :s AND seq = 6"), {"s": xa.id}
            )
    assert _seqs(engine, "XA-A") == [6, 7, 8, 9, 10, 11]
    assert _verify(engine, "XA-A", "another server's key").ok is False
    unchecked = _verify(engine, "XA-A", None)
    assert unchecked.ok is False and "thiếu khoá" in unchecked.first_broken["problem"]

    # Without the key anyone can still write a checkpoint over records 6-7 and a permit,
    # and then the database lets those records go: the signature gives it away.
    values = {
        **genuine.model_dump(exclude={"id", "signature"}),
        "first_seq": 6,
        "last_seq": 7,
        "count": 2,
        "last_hash": hidden.hash,
        "previous": genuine.signature,
        "purged_before": far,
    }
    with session_scope(engine) as session:
        forged = AiringCheckpoint(**values, signature=checkpoint_signature(values, key="guessed"))
        session.add(forged)
        session.flush()
        session.add(AiringPurgePermit(station_id=xa.id, checkpoint_id=forged.id, before_day=far))
        session.flush()
        session.execute(
            text("DELETE FROM airing_record WHERE station_id = :s AND seq IN (6, 7)"),
            {"s": xa.id},
        )
    check = _verify(engine, "XA-A", logged.key)
    assert (check.ok, check.first_broken["seq"]) == (False, 7)
    assert "chữ ký sai" in check.first_broken["problem"]


def test_a_crash_mid_purge_changes_nothing_and_the_nightly_job_then_purges(
    engine, settings, logged, database_url, monkeypatch
) -> None:
    before = {code: _seqs(engine, code) for code in ("XA-A", "XA-B")}

    def crash(*_args, **_kwargs):
        raise RuntimeError("power cut")

    with monkeypatch.context() as patched:
        # After the checkpoint, the permit and the delete, before the commit.
        patched.setattr(scheduler.retention, "rebuild_tallies", crash)
        with pytest.raises(RuntimeError, match="power cut"):
            _purge(engine, settings, logged, days_ago=5)
    assert {code: _seqs(engine, code) for code in before} == before
    with Session(engine) as session:
        for table in (AiringCheckpoint, AiringPurgePermit):
            assert session.exec(select(func.count()).select_from(table)).one() == 0
    assert _verify(engine, "XA-A", logged.key).ok

    jobs = build_scheduler(settings=settings, engine=engine).get_jobs()
    job = next(j for j in jobs if j.id == "purge-retention")
    assert job.func is purge_retention
    # The job reads its settings (and so its key) from the environment, as the process does.
    monkeypatch.setenv("TRUYENTHANH_DATA_DIR", str(settings.data_dir))
    assert purge_retention(database_url) == 0, "nothing is two years old yet"
    with session_scope(engine) as session:
        session.add(
            RetentionPolicy(station_id=_station(session, "TINH-P").id, days=365, updated_by="t")
        )
    # Under a one-year policy, 360 days from now the days before 5 days ago are due.
    monkeypatch.setattr(scheduler.retention, "utcnow", lambda: utcnow() + timedelta(days=360))
    assert purge_retention(database_url) == 10
    assert _verify(engine, "XA-A", settings.signing_key).ok
    # The operator's view of the same, from the command line.
    env = cli_env(database_url=database_url, data_dir=settings.data_dir)
    verified = cli("airings", "verify", "XA-A", env=env)
    assert verified.exit_code == 0, verified.stdout
    assert "5 bản ghi cũ đã xoá theo thời hạn lưu trữ" in verified.stdout
    shown = cli("retention", "show", "XA-A", "--json", env=env)
    [view] = json.loads(shown.stdout)["stations"]
    assert (view["province"], view["days"], view["purged_records"]) == ("TINH-P", 365, 5)
    purged = cli("retention", "purge", env=env)
    assert purged.exit_code == 0 and "Đã xoá 0 bản ghi phát sóng" in purged.stdout


def _asset(session: Session, store, data: bytes) -> str:
    sha256, size = store.write_bytes(data, ext="mp3")
    if session.get(AudioAsset, sha256) is None:
        session.add(
            AudioAsset(
                sha256=sha256, origin=AssetOrigin.recording, format="mp3", size=size, duration_s=1
            )
        )
    return sha256


def test_recordings_past_the_policy_go_unless_something_still_plays_them(engine, settings):
    province(engine)
    store = MediaStore(settings.media_path)
    translated = approved_item(engine, title="Khai sinh trực tuyến")
    booked_item = approved_item(engine, title="Lịch tiêm chủng")
    old, recent = utcnow() - timedelta(days=800), utcnow() - timedelta(days=10)
    with session_scope(engine) as session:
        station = _station(session, "XA-A")
        made = {}
        for name, item, created, data in (
            ("unused", translated, old, b"unused"),
            ("shares", translated, old, b"shared"),
            ("recent", translated, recent, b"shared"),
            ("programme", translated, old, b"programme"),
            ("playlist", translated, old, b"playlist"),
            ("booked", booked_item, old, b"booked"),
        ):
            recording = Recording(
                item_id=item,
                language="blt",
                speaker="Lò Văn Pản",
                station_id=station.id,
                original_sha256=_asset(session, store, data + b"-original"),
                broadcast_sha256=_asset(session, store, data + b"-broadcast")
                if name != "shares"
                else _asset(session, store, b"unused-broadcast-2"),
                filename=f"{name}.wav",
                uploaded_by="vanhanh",
                created_at=created,
            )
            session.add(recording)
            session.flush()
            made[name] = recording
        session.add(
            Programme(
                station_id=station.id,
                title="Chương trình tiếng Thái",
                parts=[{"kind": "recording", "recording_id": made["programme"].id}],
            )
        )
        session.add(
            Playlist(
                station_id=station.id,
                day=_today() + timedelta(1),
                etag="x",
                body={"entries": [{"audio": {"sha256": made["playlist"].broadcast_sha256}}]},
            )
        )
        session.add(
            Booking(
                station_id=station.id,
                source="item",
                item_id=booked_item,
                title="Lịch tiêm chủng",
                recurrence={"freq": "weekly"},
                created_by="alice",
            )
        )
    files = {
        name: (store.path(r.original_sha256, "mp3"), store.path(r.broadcast_sha256, "mp3"))
        for name, r in made.items()
    }
    report = purge_expired(
        engine,
        key=settings.signing_key,
        store=store,
        now=utcnow(),
        actor=Actor(kind="user", id=None, name="quantri"),
    )
    assert (report.recordings, report.files) == (2, 3)
    with Session(engine) as session:
        left = {r.filename for r in session.exec(select(Recording))}
        assert left == {"recent.wav", "programme.wav", "playlist.wav", "booked.wav"}
        deletions = session.exec(
            select(AuditEvent.actor_name, AuditEvent.object_type).where(
                AuditEvent.action == "delete"
            )
        ).all()
        assert sorted(set(deletions)) == [("quantri", "audio_asset"), ("quantri", "recording")]
    for name, (original, broadcast) in files.items():
        if name == "unused":
            assert not original.exists() and not broadcast.exists()
        elif name == "shares":
            # Its original is the same file as a recent recording's: only its own copy goes.
            assert original.exists() and not broadcast.exists()
        else:
            assert original.exists() and broadcast.exists(), name


def test_an_admin_sets_the_province_policy_and_operators_can_see_it(
    client, engine, settings, newsroom, database_url
) -> None:
    with session_scope(engine) as session:
        admin = create_user(
            session,
            username="quantri",
            password="mật-khẩu-đủ-dài",
            role=Role.admin,
            station_id=None,
        )
        token = issue_access_token(settings=settings, user=admin).token
    boss = {"Authorization": f"Bearer {token}"}
    path = "/api/v1/stations/{}/retention"
    shown = client.get(path.format("XA-A"), headers=newsroom.operator).json()
    assert (shown["province"], shown["days"], shown["default"]) == ("TINH-P", 730, True)
    assert shown["keeps_from"] == (_today() - timedelta(730)).isoformat()
    assert (
        client.put(path.format("TINH-P"), headers=newsroom.planner, json={"days": 1095}).status_code
        == 403
    )
    for code, days in (("XA-A", 1095), ("TINH-P", 30), ("TINH-P", 100_000)):
        refused = client.put(path.format(code), headers=boss, json={"days": days})
        assert refused.status_code == 422, refused.text
        assert refused.headers["content-type"].startswith("application/problem+json")
    changed = client.put(path.format("TINH-P"), headers=boss, json={"days": 1095})
    assert changed.status_code == 200, changed.text
    assert (changed.json()["days"], changed.json()["updated_by"]) == (1095, "quantri")
    assert client.get(path.format("XA-B"), headers=newsroom.planner).json()["days"] == 1095
    with Session(engine) as session:
        [event] = session.exec(
            select(AuditEvent).where(AuditEvent.object_type == "retention_policy")
        ).all()
        assert (event.actor_name, event.action, event.change["days"]) == ("quantri", "create", 1095)

    env = cli_env(database_url=database_url, data_dir=settings.data_dir)
    refused = cli("retention", "set", "XA-A", "--days", "800", env=env)
    assert refused.exit_code == 2 and "TINH-P" in refused.stderr
    done = cli("retention", "set", "TINH-P", "--days", "730", "--json", env=env)
    assert done.exit_code == 0, done.stderr
    assert json.loads(done.stdout)["days"] == 730
    shown = cli("retention", "show", env=env)
    assert "TINH-P: lưu 730 ngày theo đài TINH-P, giữ từ ngày" in shown.stdout, shown.stdout
    with Session(engine) as session:
        actors = session.exec(
            select(AuditEvent.actor_name).where(AuditEvent.object_type == "retention_policy")
        ).all()
        assert actors[-1].startswith("cli:")
