"""The demo's relay and fallback point at the server its devices reach, not a fixed port."""

import json
from datetime import date

import pytest
from sqlmodel import Session, select

from core.db import create_db_engine
from core.settings import parse_database_url
from scheduler.models import Booking, Playlist, Station
from tests.processes import cli_env, free_port, run_cli


def _relays(database_url: str) -> tuple[set[str], dict[tuple[date, bool], set[str]]]:
    """The relay addresses of the demo commune's settings and bookings, and of each day's
    playlist (entries and the fallback named for devices), by day and whether it froze."""
    engine = create_db_engine(parse_database_url(database_url))
    try:
        with Session(engine) as session:
            commune = session.exec(select(Station).where(Station.code == "XA-CHIENG-PAN")).one()
            settings = {commune.fallback["url"]} | {
                b.relay_url
                for b in session.exec(select(Booking).where(Booking.station_id == commune.id))
                if b.relay_url
            }
            days = {
                (p.day, p.frozen_at is not None): {
                    e["relay"]["url"] for e in p.body["entries"] if e.get("relay")
                }
                | {p.body["fallback"]["relay"]["url"]}
                for p in session.exec(select(Playlist).where(Playlist.station_id == commune.id))
            }
        return settings, days
    finally:
        engine.dispose()


@pytest.mark.parametrize("backend", ["sqlite"])
def test_the_demo_relay_follows_the_port_and_the_public_address(
    tmp_path, empty_database_url
) -> None:
    env = cli_env(database_url=empty_database_url, data_dir=tmp_path / "data")
    port = free_port()
    first = run_cli("demo", "--no-serve", "--port", str(port), "--json", env=env)
    assert first.returncode == 0, first.stderr
    here = f"http://127.0.0.1:{port}"
    assert json.loads(first.stdout)["audio"]["programme_url"].startswith(f"{here}/api/v1/audio/")
    settings, days = _relays(empty_database_url)
    assert settings == {f"{here}/demo/vov1"}
    assert {url for urls in days.values() for url in urls} == {f"{here}/demo/vov1"}

    # Behind a public address, run again: the relay and fallback move with it.
    env["TRUYENTHANH_PUBLIC_BASE_URL"] = "https://loa.chiengpan.example.vn/"
    again = run_cli("demo", "--no-serve", "--port", str(port), "--json", env=env)
    assert again.returncode == 0, again.stderr
    public = "https://loa.chiengpan.example.vn/demo/vov1"
    settings, days = _relays(empty_database_url)
    assert settings == {public}
    # A frozen day keeps the entries devices hold; every day still open follows.
    ahead = [urls for (_, frozen), urls in days.items() if not frozen]
    assert ahead and all(urls == {public} for urls in ahead), days
