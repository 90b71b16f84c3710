"""Backup and restore: a live database and the media store, checked and put back whole."""

import hashlib
import json
import tarfile
import threading
import time
from pathlib import Path

import pytest
from sqlalchemy import Engine, inspect, select, text
from sqlmodel import Session, SQLModel

import core.backup
from audio.models import AssetOrigin, AudioAsset
from audio.store import MediaStore
from core.backup import BackupError, backup, restore
from core.db import create_db_engine, session_scope
from core.settings import Settings, parse_database_url
from scheduler.airings import ingest_airings, rebuild_tallies
from scheduler.models import AiringIn
from scheduler.retention import purge_expired
from scheduler.service import get_station
from tests.processes import cli_env, run_cli
from tests.scheduler.test_retention import (
    cli,
    entries,
    expired_before,
    log,
    province,
    relay_every_day,
)

CHANGING = {"airing_record", "airing_tally", "airing_chain"}  # what the writer adds to


def _media(root: Path) -> dict[str, str]:
    return {
        str(path.relative_to(root)): hashlib.sha256(path.read_bytes()).hexdigest()
        for path in root.glob("[0-9a-f][0-9a-f]/*")
    }


def _rows_in(connection, table: str) -> list[tuple]:
    known = SQLModel.metadata.tables.get(table)
    if known is None:  # alembic_version, apscheduler_jobs
        return sorted(tuple(r) for r in connection.execute(text(f"SELECT * FROM {table}")))
    query = select(*known.c).order_by(*known.primary_key.columns)
    return [tuple(row) for row in connection.execute(query)]


def _rows(engine: Engine, table: str) -> list[tuple]:
    with engine.connect() as connection:
        return _rows_in(connection, table)


def _rounded(rows: list[tuple]) -> list[tuple]:
    # Sums of seconds may differ in the last bits between an incremental and a full count.
    return [tuple(round(v, 3) if isinstance(v, float) else v for v in row) for row in rows]


@pytest.fixture
def world(engine, settings) -> dict:
    """Two communes with logs, audio in the store, and part of XA-B's log already purged."""
    province(engine)
    relay_every_day(engine, settings.public_base_url, ("XA-A", "XA-B"))
    yesterday = entries(engine, settings.public_base_url, "XA-A", range(1, 0, -1))[1]
    older = entries(engine, settings.public_base_url, "XA-B", range(3, 0, -1))
    for back in (3, 2, 1):
        log(engine, "XA-B", older[back], cluster=None)
    store = MediaStore(settings.media_path)
    with session_scope(engine) as session:
        for n in range(3):
            sha256, size = store.write_bytes(f"âm thanh {n}".encode() * 500, ext="mp3")
            session.add(
                AudioAsset(
                    sha256=sha256, origin=AssetOrigin.tts, format="mp3", size=size, duration_s=n
                )
            )
    purge_expired(engine, key=settings.signing_key, store=store, now=expired_before(1))
    return {"yesterday": yesterday}


class Writer(threading.Thread):
    """Keeps appending airing records to XA-A, as devices would while the backup runs."""

    def __init__(self, engine: Engine, entry: dict) -> None:
        super().__init__(daemon=True)
        self.engine, self.entry = engine, entry
        self.stop, self.batches, self.error = threading.Event(), 0, None

    def run(self) -> None:
        try:
            while not self.stop.is_set():
                records = [
                    AiringIn(
                        id=f"w{self.batches}-{n}",
                        entry_id=self.entry["id"],
                        cluster=("BAN-A", "BAN-B")[n % 2],
                        status="skipped",
                        reason="mất điện",
                    )
                    for n in range(5)
                ]
                with session_scope(self.engine, write=True) as session:
                    station = get_station(session, code="XA-A")
                    report = ingest_airings(
                        session, station=station, records=records, source="device", recorded_by="t"
                    )
                assert len(report.accepted) == 5, report.rejected
                self.batches += 1
                time.sleep(0.01)
        except Exception as exc:
            self.error = exc


def test_a_live_database_is_backed_up_and_restored_identically(
    engine, settings, world, database_url, empty_database_url, tmp_path, backend, monkeypatch
) -> None:
    env = cli_env(database_url=database_url, data_dir=settings.data_dir)
    archive = tmp_path / "sao-luu.tar"
    writer = Writer(engine, world["yesterday"])
    writer.start()
    try:
        while writer.batches < 3 and writer.error is None:
            time.sleep(0.01)
        during = writer.batches
        made = run_cli("backup", "--output", str(archive), "--json", env=env)
        assert made.returncode == 0, made.stderr
        assert writer.batches > during, "the server kept writing while the backup ran"
    finally:
        writer.stop.set()
        writer.join()
    assert writer.error is None
    summary = json.loads(made.stdout)
    assert (summary["media_files"], summary["missing_media"]) == (3, [])
    assert summary["secret_key"] is True

    restored_dir = tmp_path / "restored"
    restored_env = cli_env(database_url=empty_database_url, data_dir=restored_dir)
    done = cli("restore", str(archive), "--json", env=restored_env)
    assert done.exit_code == 0, done.output
    assert json.loads(done.stdout)["media_files"] == 3
    restored = Settings(data_dir=restored_dir, database_url=empty_database_url)
    # A database with data is never overwritten by mistake; --force does it on purpose.
    with pytest.raises(BackupError, match="--force"):
        restore(restored, archive=archive)
    restore(restored, archive=archive, force=True)
    verified = cli("airings", "verify", "--json", env=restored_env)
    assert verified.exit_code == 0, verified.output
    checks = {c["station"]: c for c in json.loads(verified.stdout)["stations"]}
    assert checks["XA-B"]["purged"] == 2 and checks["XA-A"]["records"] >= 5 * during

    copy = create_db_engine(parse_database_url(empty_database_url))
    try:
        names = set(inspect(engine).get_table_names())
        assert set(inspect(copy).get_table_names()) == names
        for table in sorted(names - CHANGING):
            assert _rows(copy, table) == _rows(engine, table), table
        # The log as it stood at the snapshot: a prefix of each station's chain, up to the
        # restored chain head (airing_record columns: id, station_id, seq, ...).
        live, kept = _rows(engine, "airing_record"), _rows(copy, "airing_record")
        heads = dict((row[0], row[1]) for row in _rows(copy, "airing_chain"))
        assert {r[1] for r in kept} == set(heads)
        for station_id, seq in heads.items():
            mine = [r for r in kept if r[1] == station_id]
            assert mine == [r for r in live if r[1] == station_id and r[2] <= seq]
            assert mine[-1][2] == seq
        # The tallies came along matching the restored log.
        tallies = _rounded(_rows(copy, "airing_tally"))
        with Session(copy) as session:
            rebuild_tallies(session, station_ids=list(heads))
            session.flush()
            assert _rounded(_rows_in(session, "airing_tally")) == tallies
            session.rollback()
    finally:
        copy.dispose()
    assert _media(restored.media_path) == _media(settings.media_path)
    assert (restored_dir / "secret.key").read_text() == settings.signing_key
    if backend == "postgresql":
        # Without pg_dump the command says how to back up by hand instead of pretending.
        monkeypatch.setattr(core.backup.shutil, "which", lambda _name: None)
        with pytest.raises(BackupError, match="pg_dump --format=custom") as missing:
            backup(settings, output=tmp_path / "khong-co.tar")
        assert str(settings.media_path) in str(missing.value)
        assert not (tmp_path / "khong-co.tar").exists()


@pytest.mark.parametrize("backend", ["sqlite"])
def test_a_damaged_archive_is_refused_before_anything_is_touched(
    engine, settings, world, tmp_path, database_url
) -> None:
    archive = Path(backup(settings, output=tmp_path / "tot.tar").path)
    with tarfile.open(archive) as tar:
        members = {m.name: m for m in tar.getmembers()}
    media = next(m for name, m in members.items() if name.startswith("media/"))
    target = Settings(data_dir=tmp_path / "moi")

    def damaged(name: str, change) -> Path:
        data = bytearray(archive.read_bytes())
        change(data)
        path = tmp_path / name
        path.write_bytes(bytes(data))
        return path

    def flip(offset: int):
        def change(data: bytearray) -> None:
            data[offset] ^= 0x01

        return change

    cases = {
        "media": (damaged("media.tar", flip(media.offset_data + 10)), media.name),
        "database": (
            damaged("db.tar", flip(members["database.sqlite"].offset_data + 5000)),
            "database.sqlite",
        ),
        "truncated": (damaged("cut.tar", lambda d: d.__delitem__(slice(len(d) // 2, None))), None),
        "not a tar": (
            damaged("rac.tar", lambda d: d.__setitem__(slice(0, None), b"rac" * 99)),
            None,
        ),
    }
    for case, (path, named) in cases.items():
        with pytest.raises(BackupError, match=named) as refused:
            restore(target, archive=path)
        assert "hỏng" in str(refused.value) or "không" in str(refused.value), case
        assert not target.data_dir.exists(), case

    # The command line says the same in one sentence, exits with status 2, and has still
    # written nothing: not even the data directory.
    env = cli_env(database_url="", data_dir=target.data_dir)
    env.pop("TRUYENTHANH_DATABASE_URL")
    result = cli("restore", str(cases["media"][0]), env=env)
    assert result.exit_code == 2
    assert result.stderr.startswith("Lỗi: Bản sao lưu bị hỏng: media/")
    assert len(result.stderr.strip().splitlines()) == 1
    assert not target.data_dir.exists()
