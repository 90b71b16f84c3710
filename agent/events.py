"""Emergency bulletins and live sessions as they happen: the event stream, or polling when
it fails."""

import logging
import threading
import time
from collections.abc import Callable
from typing import Any

from agent.client import Device, Refused, ServerClient, Unreachable
from agent.outbox import Outbox
from agent.schedule import Schedule

log = logging.getLogger("agent.events")

POLL_SPAN_S = 60.0  # after the stream fails, poll this long before trying it again
RECONNECT_S = 1.0
PAGE = 500  # what the server returns at most per poll


class Listener:
    """Hears the station's events and hands emergency entries to the schedule."""

    def __init__(
        self,
        *,
        client: ServerClient,
        device: Device,
        schedule: Schedule,
        outbox: Outbox,
        poll_interval: float,
        stop: threading.Event,
        on_bulletin: Callable[[], None],
    ) -> None:
        self.client = client
        self.device = device
        self.schedule = schedule
        self.outbox = outbox
        self.poll_interval = poll_interval
        self.stop = stop
        self.on_bulletin = on_bulletin
        saved = outbox.get("last_event_id")
        self.last_id: int | None = int(saved) if saved else None

    def run(self) -> None:
        """Listen on the stream; fall back to polling for a while whenever it fails."""
        while not self.stop.is_set():
            try:
                self._stream()
            except (Unreachable, Refused) as exc:
                if self.stop.is_set():
                    return
                log.warning(
                    "Luồng sự kiện không dùng được (%s); hỏi định kỳ mỗi %g giây.",
                    exc,
                    self.poll_interval,
                )
                self._poll(until=time.monotonic() + POLL_SPAN_S)
            else:
                self.stop.wait(RECONNECT_S)

    def close(self) -> None:
        """Break a blocked read (on shutdown)."""
        self.client.close()

    def _stream(self) -> None:
        log.debug("Kết nối luồng sự kiện (sau sự kiện %s).", self.last_id)
        for event in self.client.stream_events(self.device.station, last_id=self.last_id):
            if self.stop.is_set():
                return
            self._handle(event.data, how="luồng sự kiện")
            if event.id is not None:
                self._remember(event.id)

    def _poll(self, *, until: float) -> None:
        while not self.stop.is_set() and time.monotonic() < until:
            try:
                documents = self.client.events_after(self.device.station, self.last_id or 0)
            except (Unreachable, Refused) as exc:
                log.debug("Hỏi sự kiện không được: %s", exc)
                documents = []
            for document in documents:
                self._handle(document, how="hỏi định kỳ")
                self._remember(int(document["id"]))
            if len(documents) < PAGE:
                self.stop.wait(self.poll_interval)

    def _remember(self, event_id: int) -> None:
        if self.last_id is None or event_id > self.last_id:
            self.last_id = event_id
            self.outbox.put("last_event_id", str(event_id))

    def _handle(self, document: dict[str, Any], *, how: str) -> None:
        kind = document.get("kind")
        if kind == "live_end":
            if self.schedule.end_live(document):
                log.info("Phiên trực tiếp đã kết thúc (qua %s).", how)
                self.on_bulletin()
            return
        if kind not in ("emergency", "live"):
            return
        # An emergency live session comes twice (as an emergency and as live): once here.
        fresh = self.schedule.hear(document)
        for entry in fresh:
            what = "TIN KHẨN CẤP" if entry.priority == "emergency" else "PHÁT TRỰC TIẾP"
            log.warning(
                "%s (qua %s): «%s» lúc %s.", what, how, entry.title, entry.start.isoformat()
            )
        if fresh:
            self.on_bulletin()
