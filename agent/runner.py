"""The agent's main loop: learn who we are, then play, sync, beat and listen until stopped."""

import json
import logging
import signal
import threading
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from agent import SOFTWARE
from agent.cache import AudioCache, write_atomically
from agent.client import Device, Refused, ServerClient, Unreachable
from agent.events import Listener
from agent.outbox import Outbox
from agent.output import make_output
from agent.player import Player
from agent.schedule import Schedule
from agent.sync import Heartbeat, Syncer, cache_fill

log = logging.getLogger("agent")

RESTART_PAUSE_S = 5.0
JOIN_S = 10.0


@dataclass(frozen=True)
class Options:
    """What the operator chose on the command line."""

    server: str
    token: str
    cache: Path
    output: str = "ffplay"
    days: int = 3
    start_grace: float = 60.0
    sync_interval: float = 60.0
    heartbeat_interval: float = 60.0
    events_poll: float = 5.0


def _device_file(options: Options) -> Path:
    return options.cache / "device.json"


def identify(
    options: Options, client: ServerClient, should_stop: Callable[[], bool]
) -> Device | None:
    """Ask the server who this device is; offline, use what was saved; None if stopped first."""
    saved = _device_file(options)
    delay = 1.0
    while not should_stop():
        try:
            device = client.me()
        except (Unreachable, Refused) as exc:
            if isinstance(exc, Refused):
                log.error("Máy chủ từ chối mã thiết bị (%s); hãy kiểm tra --token.", exc.detail)
            if saved.exists():
                device = Device(**json.loads(saved.read_text("utf-8")))
                log.warning("Chưa hỏi được máy chủ (%s); dùng thông tin thiết bị đã lưu.", exc)
                return device
            log.warning("Chưa hỏi được máy chủ (%s); thử lại sau %.0f giây.", exc, delay)
            deadline = time.monotonic() + delay
            while time.monotonic() < deadline and not should_stop():
                time.sleep(0.2)
            delay = min(delay * 2, options.sync_interval)
            continue
        write_atomically(saved, json.dumps(asdict(device), ensure_ascii=False).encode())
        return device
    return None


def _forever(name: str, work: Callable[[], None], stop: threading.Event) -> threading.Thread:
    def guarded() -> None:
        while not stop.is_set():
            try:
                work()
                return
            except Exception:  # the agent must keep playing whatever one part does
                log.exception(
                    "Lỗi không lường trước trong %s; chạy lại sau %.0f giây.", name, RESTART_PAUSE_S
                )
                stop.wait(RESTART_PAUSE_S)

    thread = threading.Thread(target=guarded, name=f"agent-{name}", daemon=True)
    thread.start()
    return thread


def run(options: Options, *, should_stop: Callable[[], bool]) -> int:
    """Run the agent until `should_stop()` is true; return the exit status."""
    output = make_output(options.output)
    options.cache.mkdir(parents=True, exist_ok=True)
    outbox = Outbox(options.cache / "outbox.sqlite")
    if recovered := outbox.recover():
        log.warning(
            "Đã đóng %d bản ghi còn dở từ lần chạy trước (thiết bị dừng đột ngột).", recovered
        )
    clients = [ServerClient(options.server, options.token) for _ in range(4)]
    device = identify(options, clients[0], should_stop)
    if device is None:
        outbox.close()
        return 0
    zone = ZoneInfo(device.timezone)
    schedule = Schedule(options.cache, cluster=device.cluster)
    cache = AudioCache(options.cache)
    stop, wake_player, wake_sync = threading.Event(), threading.Event(), threading.Event()
    syncer = Syncer(
        client=clients[0],
        device=device,
        schedule=schedule,
        cache=cache,
        outbox=outbox,
        days=options.days,
        interval=options.sync_interval,
        stop=stop,
        wake=wake_sync,
        on_change=wake_player.set,
    )
    player = Player(
        schedule=schedule,
        cache=cache,
        outbox=outbox,
        output=output,
        client=clients[1],
        cluster=device.cluster,
        zone=zone,
        grace=options.start_grace,
        stop=stop,
        wake=wake_player,
        on_record=wake_sync.set,
    )

    def playing() -> str | None:
        entry = player.playing
        return entry.id if entry else None

    heartbeat = Heartbeat(
        client=clients[2],
        device=device,
        schedule=schedule,
        cache=cache,
        outbox=outbox,
        playing=playing,
        interval=options.heartbeat_interval,
        stop=stop,
    )

    def on_bulletin() -> None:
        wake_player.set()
        syncer.ask_full()

    listener = Listener(
        client=clients[3],
        device=device,
        schedule=schedule,
        outbox=outbox,
        poll_interval=options.events_poll,
        stop=stop,
        on_bulletin=on_bulletin,
    )
    threads = {
        "player": _forever("player", player.run, stop),
        "sync": _forever("sync", syncer.run, stop),
        "heartbeat": _forever("heartbeat", heartbeat.run, stop),
        "events": _forever("events", listener.run, stop),
    }
    where = f"{device.station}/{device.cluster}" if device.cluster else device.station
    log.info(
        "Tác tử phát thanh %s chạy cho %s (múi giờ %s), đầu ra %s, bộ nhớ đệm %s.",
        SOFTWARE,
        where,
        device.timezone,
        output.name,
        options.cache,
    )
    while not should_stop():
        time.sleep(0.2)
    log.info("Đang dừng tác tử phát thanh…")
    stop.set()
    wake_player.set()
    wake_sync.set()
    listener.close()
    for name in ("player", "sync", "heartbeat", "events"):
        threads[name].join(JOIN_S if name in ("player", "sync") else 1.0)
    for client in clients:
        client.close()
    outbox.close()
    log.info("Tác tử phát thanh đã dừng.")
    return 0


def serve(options: Options) -> int:
    """Run until SIGTERM or SIGINT; the handlers only note the signal."""
    # Event.set() inside a handler can deadlock on the lock the main thread holds.
    signals: list[int] = []
    signal.signal(signal.SIGTERM, lambda number, _frame: signals.append(number))
    signal.signal(signal.SIGINT, lambda number, _frame: signals.append(number))
    quiet_logs()
    return run(options, should_stop=lambda: bool(signals))


def quiet_logs() -> None:
    """Timestamps on every line for the operator; no line per HTTP request."""
    logging.getLogger("httpx").setLevel(logging.WARNING)
    stamped = logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s")
    for handler in logging.getLogger().handlers:
        handler.setFormatter(stamped)


def sync_once(options: Options) -> dict[str, Any]:
    """Pull playlists and audio and send records once; raise Unreachable or Refused."""
    quiet_logs()
    options.cache.mkdir(parents=True, exist_ok=True)
    client = ServerClient(options.server, options.token)
    outbox = Outbox(options.cache / "outbox.sqlite")
    try:
        device = client.me()
        write_atomically(_device_file(options), json.dumps(asdict(device)).encode())
        schedule = Schedule(options.cache, cluster=device.cluster)
        cache = AudioCache(options.cache)
        stop = threading.Event()
        syncer = Syncer(
            client=client,
            device=device,
            schedule=schedule,
            cache=cache,
            outbox=outbox,
            days=options.days,
            interval=options.sync_interval,
            stop=stop,
            wake=threading.Event(),
        )
        report = syncer.sync(full=True)
        Heartbeat(
            client=client,
            device=device,
            schedule=schedule,
            cache=cache,
            outbox=outbox,
            playing=lambda: None,
            interval=0,
            stop=stop,
        ).beat()
        today = syncer.today()
        counts = outbox.counts()
        return {
            "station": device.station,
            "cluster": device.cluster,
            "days": [d.isoformat() for d in schedule.days_ahead(today)],
            "entries_ahead": sum(1 for e in schedule.entries() if e.end > datetime.now(UTC)),
            "audio_files": len(schedule.audio_ahead()),
            "downloaded": cache.downloaded,
            "repaired": cache.repaired,
            "cache_fill": cache_fill(schedule, cache),
            "records_sent": report.records_sent,
            "records_pending": counts["pending"],
            "records_rejected": counts["rejected"],
        }
    finally:
        client.close()
        outbox.close()
