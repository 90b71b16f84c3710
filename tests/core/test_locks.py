from datetime import timedelta

from core.locks import acquire_lease, release_lease


def test_one_holder_at_a_time_until_the_lease_expires_or_is_released(engine) -> None:
    minute = timedelta(minutes=1)
    assert acquire_lease(engine, name="scheduler", holder="a", ttl=minute)
    assert not acquire_lease(engine, name="scheduler", holder="b", ttl=minute)
    assert acquire_lease(engine, name="scheduler", holder="a", ttl=minute), "renewal"
    release_lease(engine, name="scheduler", holder="b")  # not b's to release
    assert not acquire_lease(engine, name="scheduler", holder="b", ttl=minute)
    release_lease(engine, name="scheduler", holder="a")
    assert acquire_lease(engine, name="scheduler", holder="b", ttl=minute)
    assert acquire_lease(engine, name="other", holder="a", ttl=minute)


def test_an_expired_lease_passes_to_the_next_process(engine) -> None:
    assert acquire_lease(engine, name="scheduler", holder="crashed", ttl=timedelta(seconds=-1))
    assert acquire_lease(engine, name="scheduler", holder="next", ttl=timedelta(minutes=1))
    assert not acquire_lease(engine, name="scheduler", holder="crashed", ttl=timedelta(minutes=1))
