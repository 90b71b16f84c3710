from datetime import UTC, datetime, timedelta, timezone

import pytest
from sqlalchemy import Column, Integer, MetaData, Table, select
from sqlalchemy.exc import StatementError

from core.types import UTCDateTime

HANOI = timezone(timedelta(hours=7))


@pytest.fixture
def instants(engine):
    metadata = MetaData()
    table = Table(
        "instants_probe",
        metadata,
        Column("id", Integer, primary_key=True),
        Column("at", UTCDateTime()),
    )
    metadata.create_all(engine)
    yield table
    metadata.drop_all(engine)


def test_the_same_instant_comes_back_aware_and_in_utc(engine, instants) -> None:
    local = datetime(2026, 11, 23, 5, 30, 0, 123456, tzinfo=HANOI)
    with engine.begin() as connection:
        connection.execute(instants.insert(), [{"id": 1, "at": local}])
        back = connection.execute(select(instants.c.at)).scalar_one()
    assert back == local
    assert back.tzinfo == UTC
    assert back.isoformat() == "2026-11-22T22:30:00.123456+00:00"


def test_ordering_follows_instants_not_local_clock_readings(engine, instants) -> None:
    earlier_in_hanoi = datetime(2026, 11, 23, 6, 0, tzinfo=HANOI)  # 23:00 UTC the day before
    later_in_utc = datetime(2026, 11, 22, 23, 30, tzinfo=UTC)
    with engine.begin() as connection:
        connection.execute(
            instants.insert(), [{"id": 1, "at": later_in_utc}, {"id": 2, "at": earlier_in_hanoi}]
        )
        order = connection.execute(select(instants.c.id).order_by(instants.c.at)).scalars()
        assert list(order) == [2, 1]
        after = datetime(2026, 11, 23, 6, 15, tzinfo=HANOI)
        found = connection.execute(select(instants.c.id).where(instants.c.at > after))
        assert list(found.scalars()) == [1]


def test_naive_datetimes_are_refused(engine, instants) -> None:
    with engine.begin() as connection, pytest.raises(StatementError, match="naive"):
        connection.execute(instants.insert(), [{"id": 1, "at": datetime(2026, 1, 1, 5, 30)}])


def test_null_stays_null(engine, instants) -> None:
    with engine.begin() as connection:
        connection.execute(instants.insert(), [{"id": 1, "at": None}])
        assert connection.execute(select(instants.c.at)).scalar_one() is None
