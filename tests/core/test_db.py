import threading

import pytest
from sqlalchemy import text
from sqlalchemy.exc import IntegrityError
from sqlmodel import select

from core.db import check_connection, create_db_engine, session_scope
from core.errors import ConfigError
from core.settings import parse_database_url
from scheduler.models import Cluster, Station, StationKind


@pytest.mark.parametrize("backend", ["sqlite"])
def test_sqlite_connections_use_wal_foreign_keys_and_busy_timeout(engine) -> None:
    for _ in range(2):  # every pooled connection, not just the first
        with engine.connect() as connection:
            assert connection.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
            assert connection.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
            assert connection.exec_driver_sql("PRAGMA busy_timeout").scalar() >= 5000


def test_foreign_keys_are_enforced(engine) -> None:
    with pytest.raises(IntegrityError), session_scope(engine) as session:
        session.add(Cluster(station_id=999_999, code="X", name="Không có đài", zone_tags=[]))
    with session_scope(engine) as session:
        assert session.exec(select(Cluster)).all() == []


def test_session_scope_rolls_back_on_error(engine) -> None:
    with pytest.raises(RuntimeError), session_scope(engine) as session:
        session.add(Station(code="XA-A", name="Xã A", kind=StationKind.commune))
        session.flush()
        raise RuntimeError("boom")
    with session_scope(engine) as session:
        assert session.exec(select(Station)).all() == []


def test_concurrent_read_then_write_transactions_all_succeed(engine) -> None:
    """Read-modify-write from many threads: no 'database is locked', no lost update."""
    with session_scope(engine, write=True) as session:
        session.add(Station(code="DEM", name="0", kind=StationKind.commune))
    errors: list[BaseException] = []

    def bump() -> None:
        try:
            for _ in range(10):
                with session_scope(engine, write=True) as session:
                    station = session.exec(
                        select(Station).where(Station.code == "DEM").with_for_update()
                    ).one()
                    station.name = str(int(station.name) + 1)
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=bump) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    with session_scope(engine) as session:
        assert session.exec(select(Station.name)).one() == "40"


def test_unreachable_database_is_one_clear_sentence() -> None:
    engine = create_db_engine(parse_database_url("postgresql://u:secret@127.0.0.1:1/none"))
    with pytest.raises(ConfigError) as caught:
        check_connection(engine)
    message = str(caught.value)
    assert message.startswith("Không kết nối được cơ sở dữ liệu")
    assert "secret" not in message
    assert "\n" not in message


def test_sqlite_engine_reads_what_it_wrote_through_a_new_engine(tmp_path) -> None:
    url = parse_database_url(f"sqlite:///{tmp_path / 'x.db'}")
    first = create_db_engine(url)
    with first.begin() as connection:
        connection.execute(text("CREATE TABLE t (v INTEGER)"))
        connection.execute(text("INSERT INTO t VALUES (7)"))
    first.dispose()
    second = create_db_engine(url)
    with second.connect() as connection:
        assert connection.execute(text("SELECT v FROM t")).scalar() == 7
    second.dispose()
