"""A live MP3 stream on loopback, made by real ffmpeg, that a test can cut off and bring back."""

import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from audio.ffmpeg import run
from tests.processes import free_port

BITRATE_KBPS = 32
BYTES_PER_S = BITRATE_KBPS * 1000 // 8
TICK_S = 0.1
HEAD_START_S = 1.0  # sent at once, as a station's buffer would, so a player starts quickly


class Radio:
    """A station's stream: `on` sends in real time, `off` drops every listener and refuses
    new ones (503), `hang` keeps connections open but sends nothing."""

    def __init__(self, folder: Path, *, tone_hz: int) -> None:
        folder.mkdir(parents=True, exist_ok=True)
        source = folder / f"tone-{tone_hz}.mp3"
        # Raw frames only (no ID3, no Xing header): the loop can be sent end to end.
        run(
            [
                "-v",
                "error",
                "-y",
                "-f",
                "lavfi",
                "-i",
                f"sine=frequency={tone_hz}:sample_rate=22050:duration=5",
                "-ac",
                "1",
                "-c:a",
                "libmp3lame",
                "-b:a",
                f"{BITRATE_KBPS}k",
                "-write_xing",
                "0",
                "-id3v2_version",
                "0",
                "-f",
                "mp3",
                str(source),
            ]
        )
        self.sound = source.read_bytes()
        self.state = "on"
        self.listeners = 0  # connections served with sound, ever
        self._closed = False
        radio = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args) -> None:
                pass

            def do_GET(self) -> None:
                if radio.state == "off":
                    self.send_response(503)
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                self.send_response(200)
                self.send_header("Content-Type", "audio/mpeg")
                self.send_header("Connection", "close")
                self.end_headers()
                radio.listeners += 1
                radio._send(self.wfile)

        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}/live.mp3"
        self._server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        self._server.daemon_threads = True
        threading.Thread(target=self._server.serve_forever, daemon=True).start()

    def _send(self, out) -> None:
        position = 0
        chunk = int(BYTES_PER_S * TICK_S)

        def send(size: int) -> None:
            nonlocal position
            data = bytearray()
            while len(data) < size:
                piece = self.sound[position : position + size - len(data)]
                data += piece
                position = (position + len(piece)) % len(self.sound)
            out.write(bytes(data))
            out.flush()

        try:
            if self.state == "on":
                send(int(BYTES_PER_S * HEAD_START_S))
            next_tick = time.monotonic()
            while not self._closed and self.state != "off":
                next_tick += TICK_S
                time.sleep(max(0.0, next_tick - time.monotonic()))
                if self.state == "on":
                    send(chunk)
        except (BrokenPipeError, ConnectionResetError):
            return

    def cut(self) -> None:
        """The station goes off air: listeners are dropped, new ones refused."""
        self.state = "off"

    def hang(self) -> None:
        """The link stalls: connections stay open and carry nothing."""
        self.state = "hang"

    def resume(self) -> None:
        """Back on air."""
        self.state = "on"

    def close(self) -> None:
        """Stop serving."""
        self._closed = True
        self._server.shutdown()
        self._server.server_close()
