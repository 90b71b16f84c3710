"""Airing records kept in a local SQLite file until the server has committed them.

A record is written (and fsynced) before the agent moves on, with a client uuid that
stays the same on every retry, so a resend after a lost answer is a duplicate on the
server, never a second airing. The `handled` table remembers which entries were dealt
with, so a restart never airs an entry twice.
"""

import sqlite3
import threading
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

SCHEMA = """
CREATE TABLE IF NOT EXISTS airing (
    id TEXT PRIMARY KEY,
    entry_id TEXT NOT NULL,
    cluster TEXT,
    started_at TEXT,
    ended_at TEXT,
    status TEXT NOT NULL,
    reason TEXT,
    state TEXT NOT NULL,          -- playing, pending, rejected
    rejected_reason TEXT,
    created_at TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS airing_state ON airing (state, created_at);
CREATE TABLE IF NOT EXISTS handled (
    entry_id TEXT PRIMARY KEY,
    record_id TEXT NOT NULL,
    at TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS setting (key TEXT PRIMARY KEY, value TEXT NOT NULL);
"""
FIELDS = ("id", "entry_id", "cluster", "started_at", "ended_at", "status", "reason")
CRASH_REASON = "thiết bị dừng đột ngột khi đang phát; giờ kết thúc là lần cuối thiết bị còn phát"


def stamp(moment: datetime | None = None) -> str:
    """An ISO instant with its offset, to the second."""
    return (moment or datetime.now(UTC)).isoformat(timespec="seconds")


class Outbox:
    """The local, durable queue of airing records."""

    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self._db = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
        self._db.row_factory = sqlite3.Row
        self._lock = threading.Lock()
        with self._lock:
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=FULL")
            self._db.executescript(SCHEMA)

    def close(self) -> None:
        """Close the file."""
        with self._lock:
            self._db.close()

    def _write(self, statements: list[tuple[str, tuple[Any, ...]]]) -> None:
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                for sql, args in statements:
                    self._db.execute(sql, args)
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
            self._db.execute("COMMIT")

    def _insert(self, record: dict[str, Any], state: str) -> list[tuple[str, tuple[Any, ...]]]:
        values = tuple(record.get(name) for name in FIELDS)
        return [
            (
                "INSERT INTO airing (id, entry_id, cluster, started_at, ended_at, status, reason,"
                " state, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (*values, state, stamp()),
            ),
            (
                "INSERT OR REPLACE INTO handled (entry_id, record_id, at) VALUES (?, ?, ?)",
                (record["entry_id"], record["id"], stamp()),
            ),
        ]

    def begin(self, *, entry_id: str, cluster: str | None, started_at: str) -> str:
        """Note that an entry started playing; return the record id."""
        record_id = str(uuid.uuid4())
        # While playing, ended_at is how far it got (see progress), so a crash is closed
        # at the last moment it was heard, not at the last heartbeat.
        record = {
            "id": record_id,
            "entry_id": entry_id,
            "cluster": cluster,
            "started_at": started_at,
            "ended_at": started_at,
            "status": "partial",
        }
        self._write(self._insert(record, "playing"))
        return record_id

    def progress(self, record_id: str, *, heard_at: str) -> None:
        """Note how far a playing record got; called every second or so."""
        with self._lock:
            # Not fsynced: a killed agent loses nothing (the OS holds the write), a power
            # cut at most what the OS had not yet written. The next fsynced commit covers it.
            self._db.execute("PRAGMA synchronous=NORMAL")
            try:
                self._db.execute(
                    "UPDATE airing SET ended_at = ? WHERE id = ? AND state = 'playing'",
                    (heard_at, record_id),
                )
            finally:
                self._db.execute("PRAGMA synchronous=FULL")

    def finish(
        self,
        record_id: str,
        *,
        ended_at: str,
        status: str,
        reason: str | None,
        started_at: str | None = None,
    ) -> None:
        """Close a started record; from now on it waits to be sent."""
        self._write(
            [
                (
                    "UPDATE airing SET started_at = coalesce(?, started_at), ended_at = ?,"
                    " status = ?, reason = ?, state = 'pending' WHERE id = ?",
                    (started_at, ended_at, status, reason, record_id),
                )
            ]
        )

    def add(
        self,
        *,
        entry_id: str,
        cluster: str | None,
        status: str,
        reason: str | None,
        started_at: str | None = None,
        ended_at: str | None = None,
    ) -> str:
        """Record an entry that was skipped or failed (or aired) in one step."""
        record = {
            "id": str(uuid.uuid4()),
            "entry_id": entry_id,
            "cluster": cluster,
            "started_at": started_at,
            "ended_at": ended_at,
            "status": status,
            "reason": reason,
        }
        self._write(self._insert(record, "pending"))
        return record["id"]

    def recover(self) -> int:
        """Close records a crash left open: aired in part, until they were last heard."""
        alive = self.get("alive_at")
        with self._lock:
            rows = self._db.execute(
                "SELECT id, started_at, ended_at FROM airing WHERE state = 'playing'"
            )
            opened = [(r["id"], r["started_at"], r["ended_at"]) for r in rows]
        for record_id, started, heard in opened:
            # A record written before progress was noted has only the last heartbeat.
            last = [started, heard] if heard else [started, alive] if alive else [started]
            ended = max(last, key=lambda s: datetime.fromisoformat(s))
            self.finish(record_id, ended_at=ended, status="partial", reason=CRASH_REASON)
        return len(opened)

    def handled(self) -> set[str]:
        """Entries already aired, skipped or failed on this device."""
        with self._lock:
            return {row[0] for row in self._db.execute("SELECT entry_id FROM handled")}

    def pending(self, limit: int = 1000) -> list[dict[str, Any]]:
        """Records waiting for the server, oldest first, in the API's shape."""
        with self._lock:
            rows = self._db.execute(
                "SELECT id, entry_id, cluster, started_at, ended_at, status, reason FROM airing"
                " WHERE state = 'pending' ORDER BY created_at, rowid LIMIT ?",
                (limit,),
            ).fetchall()
        return [dict(row) for row in rows]

    def settle(self, *, kept: list[str], rejected: list[dict[str, str]]) -> None:
        """Drop what the server committed; mark what it refused, with its reason."""
        statements: list[tuple[str, tuple[Any, ...]]] = [
            ("DELETE FROM airing WHERE id = ? AND state = 'pending'", (record_id,))
            for record_id in kept
        ]
        statements += [
            (
                "UPDATE airing SET state = 'rejected', rejected_reason = ? WHERE id = ?",
                (item.get("reason", ""), item["id"]),
            )
            for item in rejected
        ]
        if statements:
            self._write(statements)

    def rejected(self) -> list[dict[str, Any]]:
        """Records the server refused, kept for the operator to look at."""
        with self._lock:
            rows = self._db.execute(
                "SELECT * FROM airing WHERE state = 'rejected' ORDER BY created_at, rowid"
            ).fetchall()
        return [dict(row) for row in rows]

    def counts(self) -> dict[str, int]:
        """How many records are in each state."""
        with self._lock:
            rows = self._db.execute("SELECT state, count(*) FROM airing GROUP BY state")
            found = {state: count for state, count in rows}
        return {state: found.get(state, 0) for state in ("playing", "pending", "rejected")}

    def get(self, key: str) -> str | None:
        """A saved setting (last event id, last time alive)."""
        with self._lock:
            row = self._db.execute("SELECT value FROM setting WHERE key = ?", (key,)).fetchone()
        return row[0] if row else None

    def put(self, key: str, value: str) -> None:
        """Save a setting."""
        self._write([("INSERT OR REPLACE INTO setting (key, value) VALUES (?, ?)", (key, value))])

    def forget_handled(self, *, older_than_days: int = 14) -> None:
        """Stop remembering entries handled long ago."""
        before = stamp(datetime.now(UTC) - timedelta(days=older_than_days))
        self._write([("DELETE FROM handled WHERE at < ?", (before,))])
