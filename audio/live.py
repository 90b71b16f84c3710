"""A live stream cut into HLS segments by ffmpeg as it arrives, and kept whole for the archive.

Whatever the caller sends (Ogg/Opus, WebM from a browser, MP3 from an encoder) goes to
ffmpeg's stdin and, byte for byte, to a file beside the segments: the archive is what
was received, not what a listener happened to hear.
"""

import contextlib
import subprocess
import threading
from pathlib import Path

from audio.ffmpeg import ffmpeg_exe

PLAYLIST = "index.m3u8"
RECEIVED = "received.bin"
SEGMENT_S = 1  # short segments: a player joins about three of them behind the speaker
CLOSE_WAIT_S = 10.0


class HlsCutter:
    """One ffmpeg process turning a pushed stream into `index.m3u8` and its segments."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        folder.mkdir(parents=True, exist_ok=True)
        self.received = 0
        self._lock = threading.Lock()
        self._raw = (folder / RECEIVED).open("ab")
        self._log = (folder / "ffmpeg.log").open("ab")
        self._process = subprocess.Popen(
            [
                ffmpeg_exe(),
                "-hide_banner",
                "-y",
                "-loglevel",
                "error",
                # Start cutting after a few kilobytes, not after ffmpeg's default 5 s probe.
                "-probesize",
                "8192",
                "-analyzeduration",
                "0",
                "-i",
                "pipe:0",
                "-vn",
                "-c:a",
                "aac",
                "-b:a",
                "64k",
                "-ar",
                "44100",
                "-ac",
                "1",
                "-f",
                "hls",
                "-hls_time",
                str(SEGMENT_S),
                "-hls_list_size",
                "0",
                # Segments appear whole, under their name, only once written.
                "-hls_flags",
                "temp_file",
                "-hls_segment_filename",
                str(folder / "seg%05d.ts"),
                str(folder / PLAYLIST),
            ],
            stdin=subprocess.PIPE,
            stdout=subprocess.DEVNULL,
            stderr=self._log,
        )

    @property
    def playlist(self) -> Path:
        """The HLS playlist players open."""
        return self.folder / PLAYLIST

    @property
    def archive(self) -> Path:
        """Everything received, in the order it came."""
        return self.folder / RECEIVED

    def on_air(self) -> bool:
        """Whether the first segment is out, so a player opening the playlist hears sound."""
        return self.playlist.exists()

    def running(self) -> bool:
        """Whether ffmpeg still takes input."""
        return self._process.poll() is None and self._process.stdin is not None

    def feed(self, chunk: bytes) -> bool:
        """Pass a chunk on (blocking); False once ffmpeg no longer takes it."""
        with self._lock:
            if not chunk:
                return self.running()
            if not self.running():
                return False
            self._raw.write(chunk)
            self.received += len(chunk)
            try:
                self._process.stdin.write(chunk)  # type: ignore[union-attr]
                self._process.stdin.flush()  # type: ignore[union-attr]
            except (BrokenPipeError, ValueError, OSError):
                return False
            return True

    def close(self) -> None:
        """End the input: ffmpeg writes the last segment and ENDLIST, then exits."""
        with self._lock:
            if self._process.stdin is not None and not self._process.stdin.closed:
                with contextlib.suppress(OSError):
                    self._process.stdin.close()
            try:
                self._process.wait(CLOSE_WAIT_S)
            except subprocess.TimeoutExpired:
                self._process.kill()
                self._process.wait()
            self._raw.close()
            self._log.close()
