"""The server's processes: uvicorn, one worker or several, each with its own listening socket.

With several workers uvicorn binds one socket and every worker accepts from it. asyncio's
loop accepts every connection waiting when it wakes, so in a morning's storm, when all
devices connect at once, the first worker to wake took them all: in the pull storm one
worker held all 200 connections while the other had none. Where the system allows it
(SO_REUSEPORT, Linux), each worker listens on a socket of its own on the same port and
the kernel shares new connections among them; a worker that dies is started again.
"""

import logging
import multiprocessing
import signal
import socket
import sys
import threading
from multiprocessing.process import BaseProcess

import uvicorn
from uvicorn.supervisors import Multiprocess

logger = logging.getLogger(__name__)

# Event streams stay open until their agents leave: do not wait for them forever.
SHUTDOWN_GRACE_S = 10
# What a worker exits with when it could not start (as uvicorn's own exit code).
STARTUP_FAILURE = 3


def run_server(*, host: str, port: int, workers: int) -> None:
    """Run the API until stopped."""
    config = uvicorn.Config(
        "api.app:serve_app",
        factory=True,
        host=host,
        port=port,
        workers=workers,
        proxy_headers=True,
        # uvloop's libuv accepts one connection per turn of the loop: in a morning's
        # storm of devices connecting at once to a busy worker, the last waited over a
        # second for it. asyncio's loop accepts all that wait, and served pulls as fast.
        loop="asyncio",
        log_level="info",
        timeout_graceful_shutdown=SHUTDOWN_GRACE_S,
    )
    if workers == 1:
        server = uvicorn.Server(config)
        server.run()
        if not server.started:
            sys.exit(STARTUP_FAILURE)
    elif hasattr(socket, "SO_REUSEPORT"):
        # Bound here only to fail early and plainly on a port already taken; a socket
        # that does not listen is given no connections.
        own_socket(host, port).close()
        sys.exit(Workers(config).run())
    else:
        Multiprocess(config, sockets=[config.bind_socket()]).run()


def own_socket(host: str, port: int) -> socket.socket:
    """A TCP socket bound to the port, which other processes may bind too."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    sock.bind((host, port))
    return sock


class Workers:
    """Worker processes, each serving on its own socket, kept running until stopped."""

    def __init__(self, config: uvicorn.Config) -> None:
        self.config = config
        self.stop = threading.Event()

    def run(self) -> int:
        """Serve until a signal to stop; the exit code."""
        for stop_signal in (signal.SIGINT, signal.SIGTERM):
            signal.signal(stop_signal, lambda *_: self.stop.set())
        processes = [self._start() for _ in range(self.config.workers)]
        code = 0
        while not self.stop.wait(0.5):
            for n, process in enumerate(processes):
                if process.is_alive():
                    continue
                if process.exitcode == STARTUP_FAILURE:
                    # It would fail again: the database needs `init`, or the port is taken.
                    code = STARTUP_FAILURE
                    self.stop.set()
                    break
                logger.warning(
                    "worker %s exited (%s); starting another", process.pid, process.exitcode
                )
                processes[n] = self._start()
        for process in processes:
            if process.is_alive():
                process.terminate()  # uvicorn's graceful shutdown
        for process in processes:
            process.join(SHUTDOWN_GRACE_S + 5)
            if process.is_alive():
                process.kill()
        return code

    def _start(self) -> BaseProcess:
        process = multiprocessing.get_context("spawn").Process(
            target=_serve_on_own_socket, args=(self.config,), daemon=False
        )
        process.start()
        return process


def _serve_on_own_socket(config: uvicorn.Config) -> None:
    config.configure_logging()
    server = uvicorn.Server(config)
    server.run(sockets=[own_socket(config.host, config.port)])
    if not server.started:
        sys.exit(STARTUP_FAILURE)
