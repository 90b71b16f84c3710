"""A TCP proxy the test controls, standing between the API and PostgreSQL."""

import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress


class TcpProxy:
    """Forwards loopback connections to a target; the test cuts, stalls and restores it.

    Cut is a stopped database server (connections reset, new ones refused); stall is a
    network that swallows packets (new connections are accepted and never answered);
    freeze is a network that goes silent in the middle of a conversation (open
    connections stay open, and what is sent on them arrives only once restored).
    """

    def __init__(self, target: tuple[str, int]) -> None:
        self.target = target
        self._lock = threading.Lock()
        self._open: set[socket.socket] = set()
        self._listener: socket.socket | None = None
        self._stalling = False
        self._frozen = False
        probe = socket.socket()
        probe.bind(("127.0.0.1", 0))
        self.port = probe.getsockname()[1]
        probe.close()

    def restore(self) -> None:
        """Listen and forward (again)."""
        with self._lock:
            self._stalling = False
            self._frozen = False
            if self._listener is not None:
                return
            listener = socket.socket()
            listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            listener.bind(("127.0.0.1", self.port))
            listener.listen(64)
            self._listener = listener
        threading.Thread(target=self._accept, args=(listener,), daemon=True).start()

    def cut(self) -> None:
        """Reset every open connection and refuse new ones, as a stopped database would."""
        with self._lock:
            listener, self._listener = self._listener, None
            self._stalling = False
            doomed, self._open = self._open, set()
        if listener is not None:
            listener.close()
        for sock in doomed:
            _reset(sock)

    def stall(self) -> None:
        """Reset every open connection; accept new ones but never answer them."""
        self.cut()
        self.restore()
        with self._lock:
            self._stalling = True

    def freeze(self) -> None:
        """Hold everything sent on any connection until restored."""
        with self._lock:
            self._frozen = True

    def _accept(self, listener: socket.socket) -> None:
        while True:
            try:
                client, _ = listener.accept()
            except OSError:
                return
            with self._lock:
                stalling = self._stalling
                self._open.add(client)
            if stalling:
                continue  # held open and silent until the next cut
            try:
                upstream = socket.create_connection(self.target)
            except OSError:
                _reset(client)
                continue
            with self._lock:
                current = self._listener is listener and not self._stalling
                if current:
                    self._open.add(upstream)
            if not current:  # cut or stalled meanwhile
                _reset(client)
                _reset(upstream)
                continue
            for source, sink in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pipe, args=(source, sink), daemon=True).start()

    def _pipe(self, source: socket.socket, sink: socket.socket) -> None:
        try:
            while data := source.recv(65536):
                while self._frozen:
                    time.sleep(0.02)
                sink.sendall(data)
        except OSError:
            pass
        for sock in (source, sink):
            _reset(sock)


def _reset(sock: socket.socket) -> None:
    with suppress(OSError):
        sock.shutdown(socket.SHUT_RDWR)
    sock.close()


@contextmanager
def proxying(target: tuple[str, int]) -> Iterator[TcpProxy]:
    """A forwarding proxy to target, cut when the block ends."""
    proxy = TcpProxy(target)
    proxy.restore()
    try:
        yield proxy
    finally:
        proxy.cut()
