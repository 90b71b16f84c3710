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
  every few seconds while it may still start, then recorded `failed` with the reason;
- no dead air: when a stream drops or never starts, or a file cannot be played, the
  station's fallback (named in the playlist) plays instead within seconds; a stream is
  tried again every few seconds and taken back once it gives sound. The record says
  what was lost and what stood in: `partial`, or `failed` when none of the entry's own
  sound went out (the fallback's airtime is not the entry's);
- a live session is played like a relay, but its stream's own end (ENDLIST) is its end,
  however early; after a `live_end` event its stream gets a few seconds to finish, and
  a session that ended before it could start is recorded `skipped`;
- while an entry plays its record notes every second how far it got, so an agent that
  is killed reports it after a restart up to that moment.
"""

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import datetime, tzinfo

from agent.cache import AudioCache, AudioUnavailable
from agent.client import Refused, ServerClient, Unreachable
from agent.outbox import Outbox, stamp
from agent.output import Item, Output, OutputError, Playback, source_back
from agent.schedule import EMERGENCY, EMERGENCY_GRACE_S, Entry, Schedule

log = logging.getLogger("agent.player")

RELAY_MIN_LEFT_S = 5.0
OVERRUN_S = 30.0  # a player still going this long after its file should have ended is stopped
SHORT_S = 2.0  # a player failing within this long played nothing worth counting
RETRY_S = 2.0  # how soon to try again to fetch the audio of a due entry
PROGRESS_S = 1.0  # how often a playing record notes how far it got: a crash loses no more
PROBE_S = 2.0  # how often a dropped stream is tried again while the fallback stands in
ON_TIME_S = 3.0  # a stream ending this close to the end of its slot ended on time
LIVE_TAIL_S = 10.0  # a player a few segments behind still plays an ended session's last words
LIVE_OVER = "phiên trực tiếp đã kết thúc trước khi phát được"
REASON_MAX = 500  # what the server keeps of a reason
NO_FALLBACK = "đài chưa đặt nội dung dự phòng"
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
            if entry.live and self.schedule.live_ended(entry.id):
                reason = LIVE_OVER
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
        self.playing = entry
        log.info(
            "Bắt đầu phát «%s» (%s, %s, lịch %s, trễ %.1f giây).",
            entry.title,
            entry.id,
            entry.priority,
            entry.start.astimezone(self.zone).strftime("%H:%M:%S"),
            late,
        )
        air = Airtime()
        how = self._play(entry, item, record_id, air)
        self.playing = None
        status, reason = self._outcome(entry, how, air, late)
        self.outbox.finish(
            record_id,
            started_at=stamp(air.first or began),
            ended_at=stamp(air.last or began),
            status=status,
            reason=reason[:REASON_MAX] if reason else None,
        )
        log.info("Kết thúc «%s»: %s%s.", entry.title, status, f" ({reason})" if reason else "")
        self.on_record()

    def _play(self, entry: Entry, item: Item, record_id: str, air: "Airtime") -> str:
        """Play the entry's own source, with the fallback standing in whenever it fails."""
        ends = time.monotonic() + item.seconds
        while True:
            run_began = self._now()
            try:
                playback = self.output.start(item)
            except (OSError, OutputError) as exc:
                log.error("Đầu ra %s không phát được «%s»: %s", self.output.name, entry.title, exc)
                failure: str | None = f"đầu ra lỗi: {exc}"
            else:
                limit = ends if entry.kind == "relay" else ends + OVERRUN_S
                how = self._watch(entry, playback, limit, record_id)
                run_ended = self._now()
                failure = playback.error
                early = ends - time.monotonic() > ON_TIME_S
                if entry.kind == "relay" and early and not (entry.live and failure is None):
                    failure = failure or "luồng ngừng phát"
                short = (run_ended - run_began).total_seconds() < SHORT_S
                if not (how == "ended" and failure and short):  # a failure at once aired nothing
                    air.heard(run_began, run_ended)
                if how != "ended":
                    return how
                if failure is None:
                    return "ended"
            air.drops += 1
            air.why = air.why or failure
            log.warning("«%s» không phát được: %s.", entry.title, failure)
            if entry.kind != "relay" and self._fallback(entry, item) is None:
                return "ended"  # nothing to fill the file's time with: go on with the day
            covering = time.monotonic()
            how = self._cover(entry, item, ends, air)
            air.lost_s += time.monotonic() - covering
            if how != "back":
                return how
            log.info("Nguồn của «%s» đã phát lại; thôi phát nội dung dự phòng.", entry.title)
            item = replace(item, seconds=ends - time.monotonic())

    def _watch(self, entry: Entry, playback: Playback, deadline: float, record_id: str) -> str:
        next_note = time.monotonic() + PROGRESS_S
        tail = False
        while True:
            if playback.wait(0.2):
                return "ended"
            if entry.live and not tail and self.schedule.live_ended(entry.id):
                tail, deadline = True, min(deadline, time.monotonic() + LIVE_TAIL_S)
            if time.monotonic() >= next_note:
                # A crash now loses at most this long of what was heard.
                self.outbox.progress(record_id, heard_at=stamp(self._now()))
                next_note += PROGRESS_S
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

    def _cover(self, entry: Entry, item: Item, ends: float, air: "Airtime") -> str:
        """Play the fallback until the slot is over or the entry's stream gives sound again."""
        fallback = self._fallback(entry, item)
        if fallback is None:
            log.warning("Đài chưa đặt nội dung dự phòng; chờ nguồn của «%s» phát lại.", entry.title)
        standin: Playback | None = None
        retry_at, probe_at = time.monotonic(), time.monotonic() + PROBE_S
        probe: Probe | None = None
        try:
            while time.monotonic() < ends:
                if fallback is not None and standin is None and time.monotonic() >= retry_at:
                    standin = self._stand_in(entry, fallback, ends, air)
                    retry_at = time.monotonic() + PROBE_S
                if standin is not None and standin.wait(0.2):
                    air.cover_failed = air.cover_failed or standin.error or "luồng ngừng phát"
                    standin = None
                elif standin is None:
                    self.stop.wait(0.2)
                if self.stop.is_set():
                    return "stopped"
                if entry.priority != EMERGENCY and self._emergency_waiting():
                    log.warning("Tin khẩn cấp đến: ngắt «%s».", entry.title)
                    return "interrupted"
                if entry.kind != "relay":
                    continue  # a file that cannot be played does not come back
                if entry.live and self.schedule.live_ended(entry.id):
                    return "ended"  # its stream now replays from the start: not back
                if probe is None and time.monotonic() >= probe_at:
                    probe = Probe(item.source)
                if probe is not None and probe.done.is_set():
                    if probe.ok:
                        return "back"
                    probe, probe_at = None, time.monotonic() + PROBE_S
            return "ended"
        finally:
            if standin is not None:
                standin.stop()

    def _fallback(self, entry: Entry, item: Item) -> dict | None:
        fallback = self.schedule.fallback(entry.id)
        if fallback is not None and fallback["relay"]["url"] == item.source:
            return None  # the same stream would fail the same way
        return fallback

    def _stand_in(
        self, entry: Entry, fallback: dict, ends: float, air: "Airtime"
    ) -> Playback | None:
        title = str(fallback.get("title") or "Nội dung dự phòng")
        item = Item(
            entry.id,
            title,
            "relay",
            entry.priority,
            str(fallback["relay"]["url"]),
            None,
            entry.start,
            ends - time.monotonic(),
            fallback=True,
        )
        try:
            playback = self.output.start(item)
        except (OSError, OutputError) as exc:
            air.cover_failed = air.cover_failed or f"đầu ra lỗi: {exc}"
            return None
        if air.covered is None:
            log.info("Phát nội dung dự phòng «%s» thay cho «%s».", title, entry.title)
        air.covered = title
        return playback

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
        self, entry: Entry, how: str, air: "Airtime", late: float
    ) -> tuple[str, str | None]:
        notes = []
        if how == "interrupted":
            notes.append(INTERRUPTED)
        elif how == "stopped":
            notes.append(STOPPED)
        elif how == "overran":
            notes.append(f"trình phát chưa dừng sau {entry.seconds() + OVERRUN_S:.0f} giây")
        if air.drops:
            notes.append(air.lost(entry.kind))
        elif entry.kind == "relay" and not entry.live and late > self.grace and how == "ended":
            notes.append(f"tiếp sóng từ giữa chừng, muộn {late:.0f} giây")
        if not notes:
            return "aired", None
        # Nothing of the entry's own sound went out: it failed, whatever stood in.
        status = "failed" if air.drops and air.heard_s < SHORT_S else "partial"
        return status, "; ".join(notes)


@dataclass
class Airtime:
    """What of an entry's own source was heard, and what stood in when it failed."""

    first: datetime | None = None
    last: datetime | None = None
    heard_s: float = 0.0
    drops: int = 0
    why: str | None = None
    lost_s: float = 0.0
    covered: str | None = None
    cover_failed: str | None = None

    def heard(self, since: datetime, until: datetime) -> None:
        """The entry's own source played from `since` to `until`."""
        if until <= since:
            return
        self.first = self.first or since
        self.last = until
        self.heard_s += (until - since).total_seconds()

    def lost(self, kind: str) -> str:
        """Why the entry's own source was not heard throughout, and what stood in."""
        what = "nguồn tiếp sóng" if kind == "relay" else "tệp âm thanh"
        if self.heard_s < SHORT_S:
            text = f"{what} không phát được ({self.why})"
        elif kind == "relay":
            text = f"{what} bị ngắt {self.drops} lần, mất {self.lost_s:.0f} giây ({self.why})"
        else:
            text = f"{what} dừng giữa chừng ({self.why})"
        if self.covered:
            text += f"; đã phát dự phòng «{self.covered}» thay thế"
            if self.cover_failed:
                text += f" (dự phòng cũng gián đoạn: {self.cover_failed})"
        elif self.cover_failed:
            text += f"; dự phòng cũng không phát được ({self.cover_failed})"
        else:
            text += f"; {NO_FALLBACK}"
        return text


class Probe:
    """Checks in the background whether a dropped stream gives sound again."""

    def __init__(self, url: str) -> None:
        self.ok = False
        self.done = threading.Event()
        threading.Thread(target=self._run, args=(url,), name="agent-probe", daemon=True).start()

    def _run(self, url: str) -> None:
        try:
            self.ok = source_back(url)
        finally:
            self.done.set()
