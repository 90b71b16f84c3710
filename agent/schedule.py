"""What the agent is to play: the playlists held on disk and emergency bulletins heard live."""

import json
import logging
import threading
import time
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

from agent.cache import write_atomically

log = logging.getLogger("agent.schedule")

RANK = {"normal": 0, "priority": 1, "emergency": 2}
EMERGENCY = "emergency"
# An emergency still plays this late; a bulletin heard later than that is history.
EMERGENCY_GRACE_S = 900.0


@dataclass(frozen=True)
class Entry:
    """One playlist entry, with its times parsed."""

    id: str
    start: datetime
    end: datetime
    kind: str
    priority: str
    title: str
    clusters: tuple[str, ...]
    audio: dict[str, Any] | None
    relay: dict[str, Any] | None

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> "Entry":
        """Read an entry as the server writes it."""
        return cls(
            id=data["id"],
            start=datetime.fromisoformat(data["start"]),
            end=datetime.fromisoformat(data["end"]),
            kind=data["kind"],
            priority=data.get("priority", "normal"),
            title=data.get("title", ""),
            clusters=tuple(data.get("clusters") or ["*"]),
            audio=data.get("audio"),
            relay=data.get("relay"),
        )

    @property
    def rank(self) -> int:
        """Higher airs first and may interrupt lower (emergency)."""
        return RANK.get(self.priority, 0)

    @property
    def live(self) -> bool:
        """A live session's stream: its own end (ENDLIST) is the end, however early."""
        return bool(self.relay and self.relay.get("live"))

    def seconds(self) -> float:
        """How long the entry lasts: the audio's own length, or its slot."""
        if self.audio and self.audio.get("duration_s"):
            return float(self.audio["duration_s"])
        return (self.end - self.start).total_seconds()


def _playable(fallback: Any) -> dict[str, Any] | None:
    # Only a relay with an address can stand in; anything else is from a newer server.
    relay = fallback.get("relay") if isinstance(fallback, dict) else None
    if isinstance(relay, dict) and relay.get("url") and fallback.get("kind") == "relay":
        return fallback
    return None


def _for_cluster(raw: dict[str, Any], cluster: str | None) -> bool:
    clusters = raw.get("clusters") or ["*"]
    return cluster is None or "*" in clusters or cluster in clusters


class Schedule:
    """Playlists by local date, kept under `<cache>/playlists`, plus live emergency entries."""

    def __init__(self, root: Path, *, cluster: str | None) -> None:
        self.dir = root / "playlists"
        self.dir.mkdir(parents=True, exist_ok=True)
        self.cluster = cluster
        self._lock = threading.Lock()
        self._days: dict[date, dict[str, Any]] = {}
        # id -> (entry json, local date, monotonic time it was heard)
        self._heard: dict[str, tuple[dict[str, Any], str, float]] = {}
        self._ended_live: set[str] = set()  # live entries whose session has ended
        for path in sorted(self.dir.glob("????-??-??.json")):
            try:
                self._days[date.fromisoformat(path.stem)] = json.loads(path.read_text("utf-8"))
            except (OSError, ValueError) as exc:
                log.warning("Bỏ qua danh sách phát hỏng %s: %s", path.name, exc)
        events = self.dir / "events.json"
        if events.exists():
            try:
                for item in json.loads(events.read_text("utf-8")):
                    self._heard[item["entry"]["id"]] = (item["entry"], item["date"], 0.0)
            except (OSError, ValueError, KeyError) as exc:
                log.warning("Bỏ qua tệp tin khẩn cấp hỏng: %s", exc)

    def etag(self, day: date) -> str | None:
        """The ETag of the held playlist of a day."""
        with self._lock:
            held = self._days.get(day)
            return held.get("etag") if held else None

    def days(self) -> list[date]:
        """The days a playlist is held for."""
        with self._lock:
            return sorted(self._days)

    def store(self, day: date, *, etag: str | None, document: dict[str, Any], asked: float) -> None:
        """Keep a freshly pulled playlist on disk and in memory."""
        held = {"etag": etag, "playlist": document}
        write_atomically(
            self.dir / f"{day.isoformat()}.json",
            json.dumps(held, ensure_ascii=False).encode(),
        )
        with self._lock:
            self._days[day] = held
            self._forget_withdrawn(day, asked)

    def confirm(self, day: date, *, asked: float) -> None:
        """The held playlist is still current (304)."""
        with self._lock:
            self._forget_withdrawn(day, asked)

    def _forget_withdrawn(self, day: date, asked: float) -> None:
        # A bulletin heard before this pull began, missing from the pulled playlist, was
        # withdrawn (a cancelled false alarm): the playlist is the later word.
        ids = {e["id"] for e in self._days[day]["playlist"].get("entries", [])}
        gone = [
            key
            for key, (_, heard_day, heard_at) in self._heard.items()
            if heard_day == day.isoformat() and heard_at < asked and key not in ids
        ]
        for key in gone:
            log.warning("Tin khẩn cấp %s đã bị rút khỏi lịch phát.", key)
            del self._heard[key]
        if gone:
            self._save_heard()

    def hear(self, document: dict[str, Any]) -> list[Entry]:
        """Add the entries of an emergency event; return those new to this device."""
        fresh = []
        stale = datetime.now(UTC) - timedelta(seconds=EMERGENCY_GRACE_S)
        with self._lock:
            for raw in document.get("entries", []):
                if not _for_cluster(raw, self.cluster) or raw["id"] in self._heard:
                    continue
                if datetime.fromisoformat(raw["start"]) < stale:
                    continue
                self._heard[raw["id"]] = (raw, str(document.get("date")), time.monotonic())
                fresh.append(Entry.from_json(raw))
            if fresh:
                self._save_heard()
        return fresh

    def end_live(self, document: dict[str, Any]) -> bool:
        """Note the entries of a `live_end` event; True if one was new to this device."""
        ids = {raw["id"] for raw in document.get("entries", []) if "id" in raw}
        with self._lock:
            fresh = ids - self._ended_live
            self._ended_live |= ids
        return bool(fresh)

    def live_ended(self, entry_id: str) -> bool:
        """Whether the live session of an entry has ended."""
        with self._lock:
            return entry_id in self._ended_live

    def _save_heard(self) -> None:
        items = [{"entry": e, "date": d} for e, d, _ in self._heard.values()]
        write_atomically(self.dir / "events.json", json.dumps(items, ensure_ascii=False).encode())

    def entries(self) -> list[Entry]:
        """Every held entry for this device, by start time."""
        with self._lock:
            raw: dict[str, dict[str, Any]] = {}
            for held in self._days.values():
                for item in held["playlist"].get("entries", []):
                    if _for_cluster(item, self.cluster):
                        raw[item["id"]] = item
            for item, _, _ in self._heard.values():
                raw.setdefault(item["id"], item)
        entries = []
        for item in raw.values():
            try:
                entries.append(Entry.from_json(item))
            except (KeyError, ValueError) as exc:
                log.warning("Bỏ qua mục lịch không đọc được %s: %s", item.get("id"), exc)
        return sorted(entries, key=lambda e: (e.start, -e.rank, e.id))

    def fallback(self, entry_id: str) -> dict[str, Any] | None:
        """What stands in when an entry's source fails: its playlist's `fallback`, if any."""
        with self._lock:
            held = [self._days[day]["playlist"] for day in sorted(self._days)]
        for playlist in held:
            if any(e.get("id") == entry_id for e in playlist.get("entries", [])):
                return _playable(playlist.get("fallback"))
        # A bulletin heard before its playlist was pulled: the station's newest word.
        newest = [p["fallback"] for p in held if p.get("fallback")]
        return _playable(newest[-1]) if newest else None

    def prune(self, before: date) -> None:
        """Forget playlists and bulletins of days before `before`."""
        with self._lock:
            for day in [d for d in self._days if d < before]:
                del self._days[day]
                (self.dir / f"{day.isoformat()}.json").unlink(missing_ok=True)
            old = [k for k, (_, d, _) in self._heard.items() if d < before.isoformat()]
            for key in old:
                del self._heard[key]
            if old:
                self._save_heard()

    def audio_ahead(self, since: datetime | None = None) -> list[dict[str, Any]]:
        """The audio of entries not over by `since` (default now), soonest first, once each."""
        since = since or datetime.now(UTC)
        seen, audio = set(), []
        for entry in self.entries():
            if entry.audio and entry.end > since and entry.audio.get("sha256") not in seen:
                seen.add(entry.audio.get("sha256"))
                audio.append(entry.audio)
        return audio

    def audio_held(self) -> set[str]:
        """The hashes any held playlist or bulletin refers to."""
        return {e.audio["sha256"] for e in self.entries() if e.audio and e.audio.get("sha256")}

    def days_ahead(self, today: date) -> list[date]:
        """Held days from `today` on, without a gap."""
        held, days = set(self.days()), []
        day = today
        while day in held:
            days.append(day)
            day += timedelta(days=1)
        return days
