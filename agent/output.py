"""Where the agent sends sound: nowhere (null), a folder (file:DIR), ffplay or mpv."""

import json
import logging
import shutil
import subprocess
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Protocol

from agent.cache import write_atomically
from audio.ffmpeg import ffmpeg_exe

log = logging.getLogger("agent.output")

STOP_WAIT_S = 3.0
# A stream that sends nothing for this long has dropped: its player gives up, so the
# agent can switch to the fallback within a few seconds.
STALL_S = 3.0
STALL_US = str(int(STALL_S * 1_000_000))
# A dropped stream is back once it plays this long in real time again (a stalled link
# that sends what it had buffered, then nothing, is not).
PROBE_SOUND_S = 2.0
PROBE_ENOUGH_S = 1.5


class OutputError(Exception):
    """The chosen output cannot be used on this machine."""


@dataclass(frozen=True)
class Item:
    """What to play now: a cached file or a stream, for at most `seconds`."""

    entry_id: str
    title: str
    kind: str
    priority: str
    source: str
    sha256: str | None
    scheduled_start: datetime
    seconds: float
    fallback: bool = False  # the station's fallback, standing in for the entry's source


class Playback(Protocol):
    """One thing playing."""

    error: str | None

    def wait(self, timeout: float) -> bool:
        """Wait up to `timeout` seconds; True once playing has ended by itself."""
        ...

    def stop(self) -> None:
        """Stop playing now."""
        ...


class Output(Protocol):
    """Something that plays items."""

    name: str

    def start(self, item: Item) -> Playback:
        """Begin playing an item."""
        ...


class TimedPlayback:
    """Silence for the item's length: the null output, and the clock of the file output."""

    def __init__(
        self, seconds: float, on_end: Callable[[bool, str | None], None] | None = None
    ) -> None:
        self.error: str | None = None
        self._ends = time.monotonic() + max(seconds, 0.0)
        self._halt = threading.Event()
        self._on_end = on_end
        self._ended = False
        self._guard = threading.Lock()

    def _end(self, *, stopped: bool, error: str | None = None) -> None:
        with self._guard:
            if self._ended:
                return
            self._ended = True
            self.error = error
        if self._on_end is not None:
            self._on_end(stopped, error)

    def fail(self, error: str) -> None:
        """End now because the sound cannot be played (from another thread)."""
        self._end(stopped=False, error=error)
        self._halt.set()

    def wait(self, timeout: float) -> bool:
        """Wait up to `timeout`; True once the item's length has passed."""
        remaining = self._ends - time.monotonic()
        if remaining > timeout:
            self._halt.wait(timeout)
            return self._ended
        self._halt.wait(max(remaining, 0.0))
        if not self._halt.is_set():
            self._end(stopped=False)
        return self._ended

    def stop(self) -> None:
        """Stop before the end."""
        self._halt.set()
        self._end(stopped=True)


class NullOutput:
    """Plays nothing, for as long as the item lasts (tests, dry runs)."""

    name = "null"

    def start(self, item: Item) -> Playback:
        """Keep quiet for the item's length."""
        return TimedPlayback(item.seconds)


class FileOutput:
    """Writes what it plays into a folder: a JSON note per item and what was heard.

    An audio item is copied (and decoded in the background, so a file no player could
    play fails as it would on a loudspeaker); a stream is recorded by ffmpeg in real time
    for its slot, so a stream that drops or never starts fails as it would on air.
    """

    name = "file"

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.folder.mkdir(parents=True, exist_ok=True)

    def start(self, item: Item) -> Playback:
        """Note the item and copy or record its sound; end when a player would."""
        started = datetime.now(UTC)
        stem = f"{started:%Y%m%dT%H%M%S%f}-{item.entry_id}"
        note: dict[str, Any] = {
            "entry_id": item.entry_id,
            "title": item.title,
            "kind": item.kind,
            "priority": item.priority,
            "fallback": item.fallback,
            "scheduled_start": item.scheduled_start.isoformat(),
            "started_at": started.isoformat(),
            "seconds": item.seconds,
            "source": item.source,
            "sha256": item.sha256,
            "copy": None,
            "ended_at": None,
            "stopped": None,
            "error": None,
        }
        path = self.folder / f"{stem}.json"

        def on_end(stopped: bool, error: str | None) -> None:
            ended = datetime.now(UTC).isoformat()
            self._write(path, {**note, "ended_at": ended, "stopped": stopped, "error": error})

        if item.kind != "audio":
            note["copy"] = f"{stem}.mka"
            self._write(path, note)
            return ProcessPlayback(_recorder(item, self.folder / note["copy"]), on_end=on_end)
        copy = self.folder / f"{stem}{Path(item.source).suffix}"
        shutil.copyfile(item.source, copy)
        note["copy"] = copy.name
        self._write(path, note)
        playback = TimedPlayback(item.seconds, on_end)
        threading.Thread(
            target=_decode_check, args=(copy, playback), name="agent-decode", daemon=True
        ).start()
        return playback

    @staticmethod
    def _write(path: Path, note: dict) -> None:
        write_atomically(path, json.dumps(note, ensure_ascii=False, indent=1).encode())


def _recorder(item: Item, dest: Path) -> list[str]:
    # Read in real time (-re) as a sound card would, the stream kept as sent.
    return [
        ffmpeg_exe(),
        "-hide_banner",
        "-nostdin",
        "-loglevel",
        "error",
        "-rw_timeout",
        STALL_US,
        "-re",
        "-i",
        item.source,
        "-t",
        f"{max(item.seconds, 0.1):.1f}",
        "-vn",
        "-c:a",
        "copy",
        "-f",
        "matroska",
        "-y",
        str(dest),
    ]


def _decode_check(path: Path, playback: TimedPlayback) -> None:
    result = subprocess.run(
        [
            ffmpeg_exe(),
            "-hide_banner",
            "-nostdin",
            "-v",
            "error",
            "-i",
            str(path),
            "-f",
            "null",
            "-",
        ],
        stdin=subprocess.DEVNULL,
        capture_output=True,
        check=False,
    )
    if result.returncode != 0:
        lines = result.stderr.decode(errors="replace").strip().splitlines()
        playback.fail(
            f"không giải mã được tệp âm thanh: {lines[-1] if lines else result.returncode}"
        )


def source_back(url: str) -> bool:
    """Whether a stream gives sound again, decoded, in real time."""
    command = [
        ffmpeg_exe(),
        "-hide_banner",
        "-nostdin",
        "-loglevel",
        "error",
        "-rw_timeout",
        STALL_US,
        "-re",
        "-i",
        url,
        "-t",
        str(PROBE_SOUND_S),
        "-vn",
        "-f",
        "null",
        "-progress",
        "pipe:1",
        "-",
    ]
    try:
        result = subprocess.run(
            command,
            stdin=subprocess.DEVNULL,
            capture_output=True,
            timeout=STALL_S + PROBE_SOUND_S + 5,
            check=False,
        )
    except subprocess.TimeoutExpired:
        return False
    heard = [
        int(line.split("=", 1)[1])
        for line in result.stdout.decode(errors="replace").splitlines()
        if line.startswith("out_time_us=") and line.split("=", 1)[1].isdigit()
    ]
    return result.returncode == 0 and max(heard, default=0) >= PROBE_ENOUGH_S * 1_000_000


class ProcessPlayback:
    """A player process; ends when it exits."""

    def __init__(
        self, command: list[str], on_end: Callable[[bool, str | None], None] | None = None
    ) -> None:
        self.error: str | None = None
        self._stderr = tempfile.TemporaryFile()  # noqa: SIM115 (lives as long as the player)
        self._process = subprocess.Popen(
            command, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=self._stderr
        )
        self._stopped = False
        self._on_end = on_end

    def _ended(self) -> None:
        if self._on_end is not None:
            on_end, self._on_end = self._on_end, None
            on_end(self._stopped, self.error)

    def wait(self, timeout: float) -> bool:
        """Wait up to `timeout`; True once the player has exited."""
        try:
            code = self._process.wait(timeout)
        except subprocess.TimeoutExpired:
            return False
        if not self._stderr.closed:
            if code != 0 and not self._stopped:
                self._stderr.seek(0)
                lines = self._stderr.read().decode(errors="replace").strip().splitlines()
                self.error = f"trình phát thoát với mã {code}: {lines[-1] if lines else ''}"
            self._stderr.close()
        self._ended()
        return True

    def stop(self) -> None:
        """Ask the player to stop, then make it."""
        self._stopped = True
        if self._process.poll() is None:
            self._process.terminate()
            try:
                self._process.wait(STOP_WAIT_S)
            except subprocess.TimeoutExpired:
                self._process.kill()
                self._process.wait()
        self._stderr.close()
        self._ended()


class ProcessOutput:
    """Plays through an external player (ffplay, ffmpeg to PulseAudio, or mpv)."""

    def __init__(self, name: str, build: Callable[[str, float | None], list[str]]) -> None:
        self.name = name
        self._build = build

    def start(self, item: Item) -> Playback:
        """Start the player process for the item."""
        # A stream never ends by itself: limit it to its slot.
        limit = max(item.seconds, 0.1) if item.kind == "relay" else None
        return ProcessPlayback(self._build(item.source, limit))


def _ffplay() -> ProcessOutput:
    found = shutil.which("ffplay")
    if found is None:
        ffmpeg = ffmpeg_exe()
        beside = Path(ffmpeg).with_name("ffplay")
        if beside.is_file():
            found = str(beside)
        else:
            log.warning(
                "Không tìm thấy ffplay (trong PATH hay cạnh %s); phát qua ffmpeg ra PulseAudio.",
                ffmpeg,
            )

            def through_ffmpeg(source: str, limit: float | None) -> list[str]:
                timed = ["-t", f"{limit:.1f}"] if limit else []
                stall = ["-rw_timeout", STALL_US] if limit else []
                return [
                    ffmpeg,
                    "-hide_banner",
                    "-nostdin",
                    "-loglevel",
                    "error",
                    *stall,
                    "-re",
                    "-i",
                    source,
                    *timed,
                    "-f",
                    "pulse",
                    "truyenthanh",
                ]

            return ProcessOutput("ffmpeg-pulse", through_ffmpeg)

    def through_ffplay(source: str, limit: float | None) -> list[str]:
        timed = ["-t", f"{limit:.1f}", "-rw_timeout", STALL_US] if limit else []
        return [found, "-hide_banner", "-loglevel", "error", "-nodisp", "-autoexit", *timed, source]

    return ProcessOutput("ffplay", through_ffplay)


def _mpv() -> ProcessOutput:
    found = shutil.which("mpv")
    if found is None:
        raise OutputError("Không tìm thấy mpv; hãy cài mpv hoặc dùng --output ffplay.")

    def through_mpv(source: str, limit: float | None) -> list[str]:
        timed = [f"--length={limit:.1f}", f"--network-timeout={STALL_S:g}"] if limit else []
        return [found, "--no-video", "--really-quiet", "--no-terminal", *timed, source]

    return ProcessOutput("mpv", through_mpv)


def make_output(spec: str) -> Output:
    """Build the output named on the command line: null, file:DIR, ffplay or mpv."""
    if spec == "null":
        return NullOutput()
    if spec.startswith("file:") and len(spec) > len("file:"):
        return FileOutput(Path(spec[len("file:") :]).expanduser())
    if spec == "ffplay":
        return _ffplay()
    if spec == "mpv":
        return _mpv()
    raise OutputError(f"Không hiểu đầu ra {spec!r}; dùng null, file:THƯ_MỤC, ffplay hoặc mpv.")
