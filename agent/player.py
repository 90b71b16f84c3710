"""Plays each entry at its time, lets emergencies interrupt, and records every outcome.

Timing rules:
- an audio entry starts at its scheduled time; if the agent gets to it later (it was not
  running, or the entry before overran) it still plays in full while it is at most
  `grace` seconds late, and is recorded `skipped` with the reason when later than that;
- a relay is live, so it is joined as long as its slot has more than a few seconds left:
  `aired` when joined within the grace, `partial` (with how late) when joined later;
- an emergency entry interrupts whatever plays (recorded `partial`, "ngắt bởi tin khẩn
  cấp") and plays in full when it is at most 15 minutes (or the grace, if larger) late:
  a late warning is better than none; an interrupted entry is not resumed;
- several due entries play emergencies first, then by start time;
- a due entry whose file is missing or damaged and cannot be fetched is tried again
  every few seconds while it may still start, then recorded `failed` with the reason.
"""

import logging
import threading
import time
from collections.abc import Callable
from datetime import datetime, tzinfo

from agent.cache import AudioCache, AudioUnavailable
from agent.client import Refused, ServerClient, Unreachable
from agent.outbox import Outbox, stamp
from agent.output import Item, Output, OutputError, Playback
from agent.schedule import EMERGENCY, EMERGENCY_GRACE_S, Entry, Schedule

log = logging.getLogger("agent.player")

RELAY_MIN_LEFT_S = 5.0
OVERRUN_S = 30.0  # a player still going this long after its file should have ended is stopped
SHORT_S = 2.0  # a player failing within this long played nothing worth counting
RETRY_S = 2.0  # how soon to try again to fetch the audio of a due entry
INTERRUPTED = "ngắt bởi tin khẩn cấp"
STOPPED = "tác tử dừng (tắt máy hoặc khởi động lại) khi đang phát"


class Player:
    """The loop that airs the schedule through an output."""

    def __init__(
        self,
        *,
        schedule: Schedule,
        cache: AudioCache,
        outbox: Outbox,
        output: Output,
        client: ServerClient | None,
        cluster: str | None,
        zone: tzinfo,
        grace: float,
        stop: threading.Event,
        wake: threading.Event,
        on_record: Callable[[], None] = lambda: None,
    ) -> None:
        self.schedule = schedule
        self.cache = cache
        self.outbox = outbox
        self.output = output
        self.client = client
        self.cluster = cluster
        self.zone = zone
        self.grace = grace
        self.stop = stop
        self.wake = wake
        self.on_record = on_record
        self.playing: Entry | None = None
        self.handled = outbox.handled()
        self.began = self._now()
        # Entries whose audio could not be had yet: when to try again, and why.
        self.waiting: dict[str, tuple[float, str]] = {}

    def _now(self) -> datetime:
        return datetime.now(self.zone)

    def run(self) -> None:
        """Air due entries until asked to stop."""
        while not self.stop.is_set():
            entry = self._due()
            if entry is not None:
                self._air(entry)
                continue
            self.wake.wait(self._until_next())
            self.wake.clear()

    def _until_next(self) -> float:
        now = self._now()
        ahead = [e.start for e in self.schedule.entries() if e.id not in self.handled]
        later = [(s - now).total_seconds() for s in ahead if s > now]
        return min([1.0, *later])

    def _due(self) -> Entry | None:
        now = self._now()
        due = [e for e in self.schedule.entries() if e.id not in self.handled and e.start <= now]
        for entry in sorted(due, key=lambda e: (-e.rank, e.start, e.id)):
            reason = self._too_late(entry, now)
            if reason is None:
                if self._ready(entry):
                    return entry
                continue
            if entry.id in self.waiting:
                why = self.waiting.pop(entry.id)[1]
                self._record(entry, status="failed", reason=f"không có âm thanh để phát: {why}")
            else:
                self._record(entry, status="skipped", reason=reason)
        return None

    def _ready(self, entry: Entry) -> bool:
        return self.waiting.get(entry.id, (0.0, ""))[0] <= time.monotonic()

    def _too_late(self, entry: Entry, now: datetime) -> str | None:
        late = (now - entry.start).total_seconds()
        if entry.priority == EMERGENCY:
            if late <= max(self.grace, EMERGENCY_GRACE_S):
                return None
        elif entry.kind == "relay":
            if (entry.end - now).total_seconds() > RELAY_MIN_LEFT_S:
                return None
        elif late <= self.grace:
            return None
        at = entry.start.astimezone(self.zone)
        if (self.began - entry.start).total_seconds() > self.grace:
            return f"thiết bị chưa chạy lúc đến giờ phát ({at:%H:%M:%S %d/%m/%Y})"
        return f"quá giờ phát {late:.0f} giây (buổi trước chưa xong hoặc chưa có âm thanh)"

    def _record(self, entry: Entry, *, status: str, reason: str) -> None:
        self.outbox.add(entry_id=entry.id, cluster=self.cluster, status=status, reason=reason)
        self.handled.add(entry.id)
        log.warning("Không phát «%s» (%s): %s.", entry.title, entry.id, reason)
        self.on_record()

    def _source(self, entry: Entry) -> tuple[str, str | None]:
        if entry.kind == "relay":
            url = (entry.relay or {}).get("url")
            if not url:
                raise AudioUnavailable("thiếu địa chỉ luồng tiếp sóng")
            return str(url), None
        if not entry.audio:
            raise AudioUnavailable("mục lịch không có âm thanh")
        # Checked by hash right before playing; a damaged file is fetched again.
        return str(self.cache.ensure(entry.audio, self.client)), entry.audio["sha256"]

    def _air(self, entry: Entry) -> None:
        try:
            source, sha256 = self._source(entry)
        except Refused as exc:
            self._record(entry, status="failed", reason=f"không tải được âm thanh: {exc}")
            return
        except (AudioUnavailable, Unreachable) as exc:
            # Tried again until the entry is too late, then recorded as failed.
            if entry.id not in self.waiting:
                log.warning("Chưa có âm thanh cho «%s» (%s); sẽ thử lại.", entry.title, exc)
            self.waiting[entry.id] = (time.monotonic() + RETRY_S, str(exc))
            return
        self.waiting.pop(entry.id, None)
        began = self._now()
        late = (began - entry.start).total_seconds()
        # A stream plays to the end of its slot, a file for its own length.
        seconds = (entry.end - began).total_seconds() if entry.kind == "relay" else entry.seconds()
        record_id = self.outbox.begin(
            entry_id=entry.id, cluster=self.cluster, started_at=stamp(began)
        )
        self.handled.add(entry.id)
        item = Item(
            entry.id, entry.title, entry.kind, entry.priority, source, sha256, entry.start, seconds
        )
        try:
            playback = self.output.start(item)
        except (OSError, OutputError) as exc:
            log.error("Đầu ra %s không phát được «%s»: %s", self.output.name, entry.title, exc)
            self.outbox.finish(
                record_id, ended_at=stamp(self._now()), status="failed", reason=f"đầu ra lỗi: {exc}"
            )
            self.on_record()
            return
        self.playing = entry
        log.info(
            "Bắt đầu phát «%s» (%s, %s, lịch %s, trễ %.1f giây).",
            entry.title,
            entry.id,
            entry.priority,
            entry.start.astimezone(self.zone).strftime("%H:%M:%S"),
            late,
        )
        how = self._watch(
            entry, playback, seconds if entry.kind == "relay" else seconds + OVERRUN_S
        )
        ended = self._now()
        self.playing = None
        status, reason = self._outcome(entry, how, playback, late, (ended - began).total_seconds())
        self.outbox.finish(record_id, ended_at=stamp(ended), status=status, reason=reason)
        log.info("Kết thúc «%s»: %s%s.", entry.title, status, f" ({reason})" if reason else "")
        self.on_record()

    def _watch(self, entry: Entry, playback: Playback, limit: float) -> str:
        deadline = time.monotonic() + limit
        while True:
            if playback.wait(0.2):
                return "ended"
            if self.stop.is_set():
                playback.stop()
                return "stopped"
            if entry.priority != EMERGENCY and self._emergency_waiting():
                log.warning("Tin khẩn cấp đến: ngắt «%s».", entry.title)
                playback.stop()
                return "interrupted"
            if time.monotonic() >= deadline:
                playback.stop()
                return "ended" if entry.kind == "relay" else "overran"

    def _emergency_waiting(self) -> bool:
        now = self._now()
        return any(
            e.priority == EMERGENCY
            and e.id not in self.handled
            and self._ready(e)
            and e.start <= now
            and (now - e.start).total_seconds() <= max(self.grace, EMERGENCY_GRACE_S)
            for e in self.schedule.entries()
        )

    def _outcome(
        self, entry: Entry, how: str, playback: Playback, late: float, played: float
    ) -> tuple[str, str | None]:
        if how == "interrupted":
            return "partial", INTERRUPTED
        if how == "stopped":
            return "partial", STOPPED
        if how == "overran":
            return "partial", f"trình phát chưa dừng sau {entry.seconds() + OVERRUN_S:.0f} giây"
        if playback.error:
            return ("failed" if played < SHORT_S else "partial"), playback.error
        if entry.kind == "relay" and late > self.grace:
            return "partial", f"tiếp sóng từ giữa chừng, muộn {late:.0f} giây"
        return "aired", None
