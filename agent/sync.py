"""Keeping in step with the server: playlists and audio in, airing records and heartbeats out."""

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from agent import SOFTWARE
from agent.cache import AudioCache, AudioUnavailable
from agent.client import Device, Refused, ServerClient, Unreachable
from agent.outbox import Outbox, stamp
from agent.schedule import EMERGENCY_GRACE_S, Schedule

log = logging.getLogger("agent.sync")

MAX_BATCH = 1000


@dataclass
class SyncReport:
    """What one pass did."""

    playlists_changed: int = 0
    records_sent: int = 0
    records_rejected: int = 0


class Syncer:
    """Pulls playlists and audio ahead of time and sends airing records, backing off offline."""

    def __init__(
        self,
        *,
        client: ServerClient,
        device: Device,
        schedule: Schedule,
        cache: AudioCache,
        outbox: Outbox,
        days: int,
        interval: float,
        stop: threading.Event,
        wake: threading.Event,
        on_change: Callable[[], None] = lambda: None,
    ) -> None:
        self.client = client
        self.device = device
        self.schedule = schedule
        self.cache = cache
        self.outbox = outbox
        self.days = days
        self.interval = interval
        self.stop = stop
        self.wake = wake
        self.on_change = on_change
        self.zone = ZoneInfo(device.timezone)
        self.online: bool | None = None
        self.report = SyncReport()
        self._full_asked = False

    def today(self) -> date:
        """The station's local date."""
        return datetime.now(self.zone).date()

    def ask_full(self) -> None:
        """Pull playlists and audio now, not at the next interval (a bulletin arrived)."""
        self._full_asked = True
        self.wake.set()

    def run(self) -> None:
        """Sync every `interval` seconds; send records as soon as there are some."""
        failures, next_full = 0, 0.0
        while not self.stop.is_set():
            full = self._full_asked or time.monotonic() >= next_full
            self._full_asked = False
            if self.attempt(full=full):
                failures = 0
                if full:
                    next_full = time.monotonic() + self.interval
                delay = max(0.0, next_full - time.monotonic())
            else:
                failures += 1
                next_full = 0.0
                delay = min(self.interval, 2.0**failures)
            if self.wake.wait(delay):
                self.wake.clear()
        if self.online and self.outbox.counts()["pending"]:
            self.attempt(full=False)  # a last chance to hand over what just aired

    def attempt(self, *, full: bool) -> bool:
        """One pass; False when the server could not be reached or refused."""
        try:
            self.sync(full=full)
        except Unreachable as exc:
            if self.online is not False:
                log.warning("Mất kết nối máy chủ (%s); tiếp tục phát từ bộ nhớ đệm.", exc)
            self.online = False
            return False
        except Refused as exc:
            log.error("Máy chủ từ chối yêu cầu: %s", exc.detail)
            self.online = False
            return False
        if self.online is False:
            log.info("Đã kết nối lại máy chủ.")
        self.online = True
        return True

    def sync(self, *, full: bool) -> SyncReport:
        """Send records; on a full pass also pull playlists and audio and tidy the cache."""
        self.push()
        if full:
            self.pull()
            self.fetch_audio()
            self.push()
            self.tidy()
        return self.report

    def pull(self) -> None:
        """Fetch today's and the coming days' playlists, with If-None-Match."""
        today = self.today()
        for offset in range(self.days + 1):
            day = today + timedelta(days=offset)
            asked = time.monotonic()
            fetched = self.client.playlist(
                self.device.station, day, cluster=self.device.cluster, etag=self.schedule.etag(day)
            )
            if fetched.status == 304:
                self.schedule.confirm(day, asked=asked)
                continue
            document = fetched.document or {}
            self.schedule.store(day, etag=fetched.etag, document=document, asked=asked)
            self.report.playlists_changed += 1
            self.on_change()
            log.info(
                "Đã nhận danh sách phát ngày %s (phiên bản %s, %d mục).",
                day.isoformat(),
                document.get("version"),
                len(document.get("entries", [])),
            )

    def fetch_audio(self) -> None:
        """Check every file that may still play by hash; fetch what is missing or damaged."""
        # An entry that just began may still start late (an emergency up to 15 minutes).
        since = datetime.now(UTC) - timedelta(seconds=EMERGENCY_GRACE_S)
        for audio in self.schedule.audio_ahead(since):
            try:
                self.cache.ensure(audio, self.client)
            except (AudioUnavailable, Refused) as exc:
                log.error("Tệp âm thanh %s…: %s", str(audio.get("sha256"))[:12], exc)

    def push(self) -> int:
        """Send waiting records in batches; drop each only once the server has kept it."""
        sent = 0
        while batch := self.outbox.pending(MAX_BATCH):
            kept, rejected = self._send(batch)
            self.outbox.settle(kept=kept, rejected=rejected)
            for item in rejected:
                log.error("Máy chủ không nhận bản ghi %s: %s", item["id"], item.get("reason"))
            sent += len(kept)
            self.report.records_sent += len(kept)
            self.report.records_rejected += len(rejected)
            if not kept and not rejected:
                break
        if sent:
            log.info("Đã gửi %d bản ghi phát sóng lên máy chủ.", sent)
        return sent

    def _send(self, batch: list[dict[str, Any]]) -> tuple[list[str], list[dict[str, str]]]:
        try:
            answer = self.client.post_airings(self.device.station, batch)
        except Refused as exc:
            if exc.status != 422:
                raise
            # One malformed record spoils a whole batch: find it by sending one at a time.
            if len(batch) == 1:
                return [], [{"id": batch[0]["id"], "reason": exc.detail}]
            kept: list[str] = []
            rejected: list[dict[str, str]] = []
            for record in batch:
                more_kept, more_rejected = self._send([record])
                kept += more_kept
                rejected += more_rejected
            return kept, rejected
        return answer["accepted"] + answer["duplicates"], answer["rejected"]

    def tidy(self) -> None:
        """Forget days gone and files no held playlist needs."""
        self.schedule.prune(self.today() - timedelta(days=1))
        removed = self.cache.prune(self.schedule.audio_held())
        if removed:
            log.info("Đã xoá %d tệp âm thanh không còn trong lịch.", removed)
        self.outbox.forget_handled()


def cache_fill(schedule: Schedule, cache: AudioCache) -> float:
    """Share of the upcoming audio files held in the cache."""
    ahead = schedule.audio_ahead()
    if not ahead:
        return 1.0
    return round(sum(cache.holds(a) for a in ahead) / len(ahead), 3)


class Heartbeat:
    """Tells the server every `interval` seconds what plays and how full the cache is."""

    def __init__(
        self,
        *,
        client: ServerClient,
        device: Device,
        schedule: Schedule,
        cache: AudioCache,
        outbox: Outbox,
        playing: Callable[[], str | None],
        interval: float,
        stop: threading.Event,
    ) -> None:
        self.client = client
        self.device = device
        self.schedule = schedule
        self.cache = cache
        self.outbox = outbox
        self.playing = playing
        self.interval = interval
        self.stop = stop

    def state(self) -> dict[str, Any]:
        """The heartbeat body."""
        today = datetime.now(ZoneInfo(self.device.timezone)).date()
        return {
            "cluster": self.device.cluster,
            "online": True,
            "volume": None,
            "playing_entry_id": self.playing(),
            "cache_fill": cache_fill(self.schedule, self.cache),
            "cached_days": len(self.schedule.days_ahead(today)),
            "software_version": SOFTWARE,
        }

    def beat(self) -> bool:
        """Send one heartbeat; False if it did not get through."""
        self.outbox.put("alive_at", stamp())
        try:
            self.client.heartbeat(self.device.station, self.state())
        except (Unreachable, Refused) as exc:
            log.debug("Không gửi được tín hiệu trạng thái: %s", exc)
            return False
        return True

    def run(self) -> None:
        """Beat until asked to stop."""
        while True:
            self.beat()
            if self.stop.wait(self.interval):
                return
