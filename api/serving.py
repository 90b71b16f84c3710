"""The server's processes: uvicorn, one worker or several, each with its own listening sockets.

With several workers uvicorn binds one socket and every worker accepts from it. asyncio's
loop accepts every connection waiting when it wakes, so in a morning's storm, when all
devices connect at once, the first worker to wake took them all: in the pull storm one
worker held all 200 connections while the other had none. Where the system allows it
(SO_REUSEPORT, Linux), each worker listens on sockets of its own on the same port and
the kernel shares new connections among them; a worker that dies is started again.

The loop is uvloop where it is installed, as uvicorn would choose (in the storm a pull
cost about 7 % less CPU than on asyncio's loop). Its libuv accepts one connection per
listening socket per turn of the loop (libuv 1.45, "don't accept() connections in a
loop"): with one socket, 137 of a storm's 200 connections waited in the accept queue for
up to 2.4 s while the loop served those already open. So each process listens on several
sockets and takes one from each per turn, as asyncio's loop took all that wait from one.
"""

import copy
import http
import logging
import multiprocessing
import signal
import socket
import sys
import threading
from multiprocessing.process import BaseProcess

import uvicorn
from uvicorn.config import LOGGING_CONFIG
from uvicorn.supervisors import Multiprocess

from core.errors import ConfigError

logger = logging.getLogger(__name__)

# Event streams stay open until their agents leave: do not wait for them forever.
SHUTDOWN_GRACE_S = 10
# What a worker exits with when it could not start (as uvicorn's own exit code).
STARTUP_FAILURE = 3
# Listening sockets per process: a storm's 200 connections are accepted in a few turns.
LISTENERS = 64


_PHRASES = {status.value: f"{status.value} {status.phrase}" for status in http.HTTPStatus}


class AccessLine(logging.Formatter):
    """uvicorn's access line, the same text without colours.

    uvicorn's formatter copies each record and looks up the status's phrase: 8.5 µs a
    request, against 0.2 µs here, when a morning's pull costs the server about 200 µs.
    """

    def format(self, record: logging.LogRecord) -> str:
        client, method, path, version, status = record.args  # type: ignore[misc]
        return f'INFO:     {client} - "{method} {path} HTTP/{version}" ' + _PHRASES.get(
            status, str(status)
        )


def _log_config() -> dict:
    config = copy.deepcopy(LOGGING_CONFIG)
    config["formatters"]["access"] = {"()": f"{__name__}.AccessLine"}
    return config


def run_server(*, host: str, port: int, workers: int) -> None:
    """Run the API until stopped, on a port `refuse_taken_port` found free."""
    config = uvicorn.Config(
        "api.app:serve_app",
        factory=True,
        host=host,
        port=port,
        workers=workers,
        proxy_headers=True,
        # One shared socket, where ports cannot be shared: asyncio's loop accepts all
        # that wait on it.
        loop="auto" if hasattr(socket, "SO_REUSEPORT") else "asyncio",
        log_level="info",
        log_config=_log_config(),
        timeout_graceful_shutdown=SHUTDOWN_GRACE_S,
    )
    if not hasattr(socket, "SO_REUSEPORT"):
        if workers == 1:
            server = uvicorn.Server(config)
            server.run()
            if not server.started:
                sys.exit(STARTUP_FAILURE)
        else:
            Multiprocess(config, sockets=[config.bind_socket()]).run()
        return
    if workers == 1:
        _serve_on_own_sockets(config)
    else:
        sys.exit(Workers(config).run())


def refuse_taken_port(host: str, port: int) -> None:
    """Fail plainly when another program holds the port, before any worker starts.

    Sockets that share a port with SO_REUSEPORT could join another server's; a plain
    bind cannot.
    """
    with _tcp_socket(host) as probe:
        try:
            probe.bind((host, port))
        except OSError as exc:
            raise ConfigError(
                f"không mở được cổng {port} trên {host} ({exc.strerror}); "
                "có thể một chương trình khác đang dùng cổng này, hãy chọn cổng khác bằng --port"
            ) from None


def own_socket(host: str, port: int) -> socket.socket:
    """A TCP socket bound to the port, which other sockets of this user may bind too."""
    sock = _tcp_socket(host)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    sock.bind((host, port))
    return sock


def _tcp_socket(host: str) -> socket.socket:
    # A port left in TIME_WAIT by a server just stopped may be bound again at once.
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    return sock


class Workers:
    """Worker processes, each serving on sockets of its own, kept running until stopped."""

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
            target=_serve_on_own_sockets, args=(self.config,), daemon=False
        )
        process.start()
        return process


def _serve_on_own_sockets(config: uvicorn.Config) -> None:
    config.configure_logging()
    server = uvicorn.Server(config)
    server.run(sockets=[own_socket(config.host, config.port) for _ in range(LISTENERS)])
    if not server.started:
        sys.exit(STARTUP_FAILURE)
