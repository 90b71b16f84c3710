"""Fault tests: real server processes killed, databases cut off, voices offline, disks full."""

import ipaddress
import socket
from collections.abc import Iterator

import pytest

from tests.faults.world import Server


@pytest.fixture(autouse=True)
def no_internet(monkeypatch: pytest.MonkeyPatch) -> None:
    """Fail loudly if a test opens a connection beyond this machine."""
    connect = socket.socket.connect

    def loopback_only(sock: socket.socket, address: object) -> None:
        if sock.family in (socket.AF_INET, socket.AF_INET6):
            host = address[0]  # type: ignore[index]
            try:
                loopback = ipaddress.ip_address(host).is_loopback
            except ValueError:
                loopback = host == "localhost"
            if not loopback:
                raise AssertionError(f"fault tests must not reach {host}")
        connect(sock, address)

    monkeypatch.setattr(socket.socket, "connect", loopback_only)


@pytest.fixture
def servers() -> Iterator[list[Server]]:
    """Servers a test starts, stopped at its end whatever happened."""
    started: list[Server] = []
    yield started
    for server in started:
        if not server.output.closed:
            server.stop()
