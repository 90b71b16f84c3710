"""The server SIGKILLed while devices post airing batches: no acknowledged record is lost.

Runs on both backends: what survives a killed writer is the database's business (SQLite's
write-ahead log, PostgreSQL's aborted transactions), and so is the per-station row lock
that keeps concurrent batches from forking the hash chain.
"""

import json
import os
import signal
import threading
import time

import httpx
from sqlmodel import Session, select

from scheduler.airings import rebuild_tallies
from scheduler.models import AiringRecord, AiringTally, Playlist, Station
from tests.faults.world import Server, build_communes, device_token, record
from tests.processes import cli_env, free_port, run_cli

CLIENTS = 4
BATCH = 10
CLUSTERS = 30
KILL_AFTER = 12  # acknowledged batches before the kill: well into the stream
STATION = "XA-0000"


def _batches(engine) -> list[list[dict]]:
    """Every airing of the commune's past days on each of its clusters, in batches."""
    with Session(engine) as session:
        station_id = session.exec(select(Station.id).where(Station.code == STATION)).one()
        bodies = session.exec(
            select(Playlist.body).where(Playlist.station_id == station_id).order_by(Playlist.day)
        ).all()
    clusters = [f"CUM-{k}" for k in range(CLUSTERS)]
    records = [
        record(entry, cluster, n)
        for body in bodies
        for n, entry in enumerate(body["entries"])
        for cluster in clusters
    ]
    return [records[i : i + BATCH] for i in range(0, len(records), BATCH)]


class Client:
    """A device posting its batches one after another until the server goes away."""

    def __init__(self, headers: dict[str, str], batches: list[list[dict]]) -> None:
        self.headers = headers
        self.unanswered = list(batches)
        self.acknowledged: set[str] = set()
        self.rejected: list[dict] = []
        self.refused: list[str] = []
        self.cut_off = False

    def run(self, base: str, progress: threading.Semaphore | None = None) -> None:
        """Post every unanswered batch; stop at the first one that gets no answer."""
        with httpx.Client(base_url=base, headers=self.headers, timeout=60) as http:
            while self.unanswered:
                try:
                    response = http.post(
                        f"/api/v1/stations/{STATION}/airings",
                        json={"records": self.unanswered[0]},
                    )
                except httpx.TransportError:
                    self.cut_off = True
                    return
                if response.status_code == 503:  # busy: as the agent does, send it again
                    time.sleep(0.5)
                    continue
                if response.status_code != 200:
                    self.refused.append(response.text)
                    return
                answer = response.json()
                self.acknowledged |= {*answer["accepted"], *answer["duplicates"]}
                self.rejected += answer["rejected"]
                self.unanswered.pop(0)
                if progress is not None:
                    progress.release()


def test_records_acknowledged_before_a_kill_survive_it_once(
    tmp_path, database_url, engine, servers
) -> None:
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    build_communes(engine, communes=1, clusters=CLUSTERS, past_days=3, base_url=base)
    headers = device_token(engine, station=STATION)
    batches = _batches(engine)
    everything = {r["id"] for batch in batches for r in batch}
    assert len(batches) >= CLIENTS * 6
    clients = [Client(headers, batches[n::CLIENTS]) for n in range(CLIENTS)]
    env = cli_env(database_url=database_url, data_dir=tmp_path / "data", public_base_url=base)

    server = Server(env, port)
    servers.append(server)
    progress = threading.Semaphore(0)
    threads = [threading.Thread(target=c.run, args=(base, progress)) for c in clients]
    for thread in threads:
        thread.start()
    for _ in range(KILL_AFTER):
        assert progress.acquire(timeout=60), "the clients stalled"
    os.kill(server.process.pid, signal.SIGKILL)
    server.process.wait()
    for thread in threads:
        thread.join(timeout=60)
    acknowledged = set().union(*(c.acknowledged for c in clients))
    assert any(c.cut_off for c in clients), "the kill came after the stream ended"
    assert KILL_AFTER * BATCH <= len(acknowledged) < len(everything)

    with Session(engine) as session:
        kept = set(session.exec(select(AiringRecord.client_id)))
    assert acknowledged <= kept, "an acknowledged record was lost"

    # The devices send again every batch they got no answer for, in flight or not yet sent.
    port = free_port()
    env = cli_env(database_url=database_url, data_dir=tmp_path / "data", public_base_url=base)
    server = Server(env, port)
    servers.append(server)
    threads = [threading.Thread(target=c.run, args=(server.base,)) for c in clients]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert not [text for c in clients for text in c.refused]
    assert not any(c.unanswered for c in clients), server.log()
    assert not [r for c in clients for r in c.rejected]
    assert set().union(*(c.acknowledged for c in clients)) == everything

    with Session(engine) as session:
        ids = list(session.exec(select(AiringRecord.client_id)))
        seqs = sorted(session.exec(select(AiringRecord.seq)))
    assert len(ids) == len(set(ids)) == len(everything), "a record was kept twice"
    assert set(ids) == everything
    assert seqs == list(range(1, len(everything) + 1))
    # Checked by the server's own command: a device token may not read the log.
    verified = run_cli("airings", "verify", STATION, "--json", env=env)
    assert verified.returncode == 0, verified.stdout + verified.stderr
    [chain] = json.loads(verified.stdout)["stations"]
    assert (chain["ok"], chain["records"], chain["first_broken"]) == (True, len(everything), None)

    # The per-entry tallies the reports read were written in the same transactions.
    with Session(engine) as session:
        tallies = _tallies(session)
        rebuild_tallies(session, station_ids=session.exec(select(Station.id)).all())
        assert _tallies(session) == tallies
        session.rollback()


def _tallies(session: Session) -> list[tuple]:
    rows = session.exec(select(AiringTally).order_by(AiringTally.entry_id)).all()
    return [(t.entry_id, t.day, t.aired, round(t.aired_s, 1), t.exact) for t in rows]
