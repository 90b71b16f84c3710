"""The audio cache trusts only what matches its hash; the outbox never sends a record twice."""

import hashlib
import threading

from agent.cache import AudioCache
from agent.client import ServerClient
from agent.outbox import Outbox, stamp
from agent.schedule import Schedule
from agent.sync import Syncer
from tests.agent.conftest import eventually, item_at, local_now, run_once, running_agent


def _digest(path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _corrupt(path) -> None:
    data = bytearray(path.read_bytes())
    middle = len(data) // 2
    data[middle : middle + 16] = bytes(b ^ 0xFF for b in data[middle : middle + 16])
    path.write_bytes(bytes(data))


def test_a_corrupted_cached_file_is_found_by_hash_and_fetched_again(commune, tmp_path) -> None:
    now = local_now().replace(second=0, microsecond=0)
    [booking] = commune.book(item_at(commune.item_id, now, "Bản tin kiểm tra"))
    token = commune.token("BAN-A")
    cache_dir = tmp_path / "cache"
    audio = {"sha256": commune.sha256, "format": "mp3"}
    cached = AudioCache(cache_dir).path(audio)
    with commune.server() as base:
        first = run_once(base, token, cache_dir)
        assert (first["station"], first["cluster"]) == ("XA-A", "BAN-A")
        assert (first["downloaded"], first["repaired"], first["cache_fill"]) == (1, 0, 1.0)
        assert _digest(cached) == commune.sha256

        # Each sync checks every file that may still play by hash, not by name or size.
        size = cached.stat().st_size
        _corrupt(cached)
        assert cached.stat().st_size == size
        second = run_once(base, token, cache_dir)
        assert (second["downloaded"], second["repaired"]) == (1, 1)
        assert _digest(cached) == commune.sha256

    # Right before playing, the file is checked again. With the server away, the damaged
    # copy is thrown out rather than aired, and fetched once the server is back.
    _corrupt(cached)
    with running_agent(commune.base, token, tmp_path, "--start-grace", "150") as agent:
        eventually(lambda: "bị hỏng (sai mã băm)" in agent.log(), timeout=30, what="the check")
        assert not agent.played()
        with commune.server():
            note = eventually(
                lambda: next((n for n in agent.played() if n["ended_at"]), None),
                timeout=30,
                what="the bulletin to play",
            )
            assert note["title"] == "Bản tin kiểm tra"
            assert _digest(agent.out / note["copy"]) == commune.sha256
            [record] = eventually(
                lambda: [r for r in commune.airings() if r["booking_id"] == booking],
                timeout=30,
                what="the airing on the server",
            )
            assert record["status"] == "aired"
            assert agent.stop() == 0, agent.log()
    assert _digest(cached) == commune.sha256


def test_a_lost_answer_is_resent_without_duplicating_and_refusals_are_kept(
    commune, tmp_path
) -> None:
    now = local_now().replace(microsecond=0)
    commune.book(item_at(commune.item_id, now.replace(second=0), "Bản tin đã phát"))
    token = commune.token("BAN-A")
    outbox = Outbox(tmp_path / "outbox.sqlite")
    with commune.server() as base:
        client = ServerClient(base, token)
        try:
            device = client.me()
            playlist = client.playlist("XA-A", now.date(), cluster="BAN-A", etag=None)
            entry_id = playlist.document["entries"][0]["id"]
            kept = outbox.add(
                entry_id=entry_id,
                cluster="BAN-A",
                status="aired",
                reason=None,
                started_at=stamp(now.replace(second=0)),
                ended_at=stamp(now),
            )
            refused = outbox.add(
                entry_id="occ_never_scheduled", cluster="BAN-A", status="skipped", reason="thử"
            )
            # The server commits the batch but the answer never reaches the agent.
            client.post_airings("XA-A", outbox.pending())
            syncer = Syncer(
                client=client,
                device=device,
                schedule=Schedule(tmp_path, cluster="BAN-A"),
                cache=AudioCache(tmp_path),
                outbox=outbox,
                days=0,
                interval=1,
                stop=threading.Event(),
                wake=threading.Event(),
            )
            syncer.push()
        finally:
            client.close()
        records = commune.airings()
    assert [(r["id"], r["entry_id"], r["status"]) for r in records] == [(kept, entry_id, "aired")]
    assert outbox.pending() == []
    [rejected] = outbox.rejected()
    assert rejected["id"] == refused
    assert "không có trong lịch" in rejected["rejected_reason"]
    outbox.close()
