"""No dead air: a relay that drops or never starts, or a file that cannot be played, gets the
station's fallback within seconds; and a crash is reported up to when sound was last heard.

Real parts throughout: the server process, the agent process with its file output (which
records streams with ffmpeg in real time and decodes files as a player would), and live
MP3 streams on loopback that the tests cut off, stall and bring back.
"""

import time
from datetime import UTC, datetime, timedelta
from itertools import pairwise
from pathlib import Path

from sqlmodel import select

from agent.outbox import CRASH_REASON
from audio.ffmpeg import inspect_audio
from audio.models import AssetOrigin, AudioAsset, Programme
from core.db import session_scope
from scheduler.models import Station
from tests.agent.conftest import STATION, eventually, local_now, relay_at, running_agent, today

SWITCH_S = 8.0  # "within a few seconds", with room for a machine shared with other tests
FALLBACK = "Tiếp sóng dự phòng"


def _at(note: dict, key: str = "started_at") -> datetime:
    return datetime.fromisoformat(note[key])


def _entry_id(commune, booking_id: int) -> str:
    return next(e["id"] for e in commune.playlist()["entries"] if e["booking_id"] == booking_id)


def _notes(agent, entry_id: str, *, fallback: bool) -> list[dict]:
    return [
        n
        for n in agent.played()
        if n["entry_id"] == entry_id and n.get("fallback", False) is fallback
    ]


def _sound(agent, note: dict) -> float:
    """Seconds of audible sound the file output recorded for a note."""
    info = inspect_audio(agent.out / note["copy"])
    assert info.max_volume_db > -30, f"{note['copy']} holds silence"
    return info.duration_s


def _reported(commune, booking_id: int, *, timeout: float) -> dict:
    [record] = eventually(
        lambda: [r for r in commune.airings() if r["booking_id"] == booking_id],
        timeout=timeout,
        what="the airing record on the server",
    )
    return record


def test_a_relay_that_never_starts_or_drops_gets_the_fallback_and_comes_back(
    commune, radios, tmp_path
) -> None:
    vov, spare = radios(440), radios(660)
    vov.cut()  # off air when the relay is due
    commune.set_fallback(spare.url, FALLBACK)
    token = commune.token("BAN-A")
    with commune.server():
        now = local_now()
        slot = (now - now.replace(second=0, microsecond=0)).total_seconds() + 75
        [booking] = commune.book(relay_at(now, round(slot, 1), "Tiếp sóng VOV1", vov.url))
        entry = _entry_id(commune, booking)
        assert commune.playlist()["fallback"] == {
            "kind": "relay",
            "title": FALLBACK,
            "relay": {"url": spare.url},
        }
        with running_agent(commune.base, token, tmp_path / "agent", "--start-grace", "120") as a:
            [tried] = eventually(
                lambda: _notes(a, entry, fallback=False), timeout=30, what="the relay"
            )
            [cover] = eventually(
                lambda: _notes(a, entry, fallback=True), timeout=30, what="the fallback"
            )
            assert _at(cover) - _at(tried) < timedelta(seconds=SWITCH_S), a.log()
            assert cover["source"] == spare.url and cover["title"] == FALLBACK

            # The station comes on air: the agent goes back to it.
            vov.resume()
            resumed = datetime.now(UTC)
            back = eventually(
                lambda: _notes(a, entry, fallback=False)[1:], timeout=30, what="the relay back"
            )[0]
            assert _at(back) - resumed < timedelta(seconds=SWITCH_S), a.log()
            cover = _notes(a, entry, fallback=True)[0]
            assert cover["stopped"] is True and _at(cover, "ended_at") <= _at(back)

            # The link stalls mid-relay: the fallback again, then back once it recovers.
            time.sleep(3)
            vov.hang()
            hung = datetime.now(UTC)
            again = eventually(
                lambda: _notes(a, entry, fallback=True)[1:], timeout=30, what="the fallback again"
            )[0]
            assert _at(again) - hung < timedelta(seconds=SWITCH_S), a.log()
            vov.resume()
            resumed = datetime.now(UTC)
            last = eventually(
                lambda: _notes(a, entry, fallback=False)[2:], timeout=30, what="the relay back"
            )[0]
            assert _at(last) - resumed < timedelta(seconds=SWITCH_S), a.log()

            record = _reported(commune, booking, timeout=slot + 30)
            notes = _notes(a, entry, fallback=False) + _notes(a, entry, fallback=True)
            assert a.stop() == 0, a.log()

    assert record["status"] == "partial", record
    assert record["reason"].startswith("nguồn tiếp sóng bị ngắt 2 lần, mất "), record
    assert f"đã phát dự phòng «{FALLBACK}» thay thế" in record["reason"], record
    # Sound all along: each switch within seconds, and every stretch recorded real sound.
    notes.sort(key=_at)
    assert len(notes) == 5, notes
    for before, after in pairwise(notes):
        assert _at(after) - _at(before, "ended_at") < timedelta(seconds=2), (before, after)
    for note in notes[1:]:
        played = (_at(note, "ended_at") - _at(note)).total_seconds()
        assert _sound(a, note) > played - 5, note
    # The record starts when the station was first heard, not when the relay was tried.
    assert _at(back) - timedelta(seconds=1) <= _at(record) <= _at(back), (record, back)


def _unplayable_programme(engine, store, *, seconds: float) -> int:
    """A programme whose stored file is intact by its hash but holds no audio a player reads."""
    data = "Không phải âm thanh. ".encode() * 400
    sha256, size = store.write_bytes(data, ext="mp3")
    with session_scope(engine, write=True) as session:
        station = session.exec(select(Station).where(Station.code == STATION)).one()
        session.add(
            AudioAsset(
                sha256=sha256,
                origin=AssetOrigin.programme,
                format="mp3",
                size=size,
                duration_s=seconds,
            )
        )
        programme = Programme(station_id=station.id, title="Chương trình hỏng", asset_sha256=sha256)
        session.add(programme)
        session.flush()
        return programme.id


def test_a_file_that_cannot_be_played_gets_the_fallback_for_its_length(
    commune, newsroom, radios, tmp_path
) -> None:
    spare = radios(660)
    commune.set_fallback(spare.url, FALLBACK)
    seconds = 12.0
    programme = _unplayable_programme(commune.engine, newsroom.store, seconds=seconds)
    token = commune.token("BAN-A")
    with commune.server():
        now = local_now()
        [booking] = commune.book(
            {
                "source": "programme",
                "programme_id": programme,
                "title": "Chương trình hỏng",
                "at": f"{now:%H:%M}",
                "recurrence": {"freq": "once", "start": today().isoformat()},
            }
        )
        entry = _entry_id(commune, booking)
        with running_agent(commune.base, token, tmp_path / "agent", "--start-grace", "120") as a:
            [own] = eventually(
                lambda: [n for n in _notes(a, entry, fallback=False) if n["ended_at"]],
                timeout=30,
                what="the file to fail",
            )
            [cover] = eventually(
                lambda: [n for n in _notes(a, entry, fallback=True) if n["ended_at"]],
                timeout=30 + seconds,
                what="the fallback to fill the file's time",
            )
            record = _reported(commune, booking, timeout=30)
            assert a.stop() == 0, a.log()

    assert own["error"].startswith("không giải mã được tệp âm thanh"), own
    assert _at(cover) - _at(own) < timedelta(seconds=SWITCH_S), a.log()
    filled = (_at(cover, "ended_at") - _at(own)).total_seconds()
    assert seconds - 1 < filled < seconds + 2, filled
    assert _sound(a, cover) > seconds - SWITCH_S
    # None of the booked sound went out: failed, with why and what stood in.
    assert record["status"] == "failed", record
    assert record["reason"].startswith("tệp âm thanh không phát được (không giải mã được"), record
    assert record["reason"].endswith(f"đã phát dự phòng «{FALLBACK}» thay thế"), record


def test_a_crash_mid_entry_is_reported_up_to_when_it_was_last_heard(
    commune, radios, tmp_path
) -> None:
    vov = radios(440)
    token = commune.token("BAN-A")
    folder: Path = tmp_path / "agent"
    with commune.server():
        now = local_now()
        slot = (now - now.replace(second=0, microsecond=0)).total_seconds() + 120
        [booking] = commune.book(relay_at(now, round(slot, 1), "Tiếp sóng VOV1", vov.url))
        entry = _entry_id(commune, booking)
        # Heartbeats a minute apart, as in the field: the last one says little.
        slow = ("--start-grace", "120", "--heartbeat-interval", "60")
        with running_agent(commune.base, token, folder, *slow) as agent:
            [note] = eventually(
                lambda: _notes(agent, entry, fallback=False), timeout=30, what="the relay"
            )
            into = (datetime.now(UTC) - _at(note)).total_seconds()
            time.sleep(max(0.0, 12 - into))
            agent.crash()
            killed = datetime.now(UTC)
            assert not _notes(agent, entry, fallback=False)[0]["ended_at"]
        with running_agent(commune.base, token, folder, *slow) as again:
            record = _reported(commune, booking, timeout=30)
            assert "Đã đóng 1 bản ghi còn dở" in again.log()
            assert again.stop() == 0, again.log()

    assert (record["status"], record["reason"]) == ("partial", CRASH_REASON)
    lost = killed - datetime.fromisoformat(record["ended_at"])
    assert timedelta(0) <= lost < timedelta(seconds=3), (killed, record)
    aired = datetime.fromisoformat(record["ended_at"]) - datetime.fromisoformat(
        record["started_at"]
    )
    assert aired > timedelta(seconds=9), record
    # Not aired twice: the restarted agent does not join the relay again.
    assert len(_notes(again, entry, fallback=False)) == 1
