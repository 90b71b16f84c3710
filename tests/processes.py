"""Run the real `truyenthanh` command and real servers for tests."""

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx

CLI = str(Path(sys.executable).with_name("truyenthanh"))


def cli_env(*, database_url: str, data_dir: Path, **extra: str) -> dict[str, str]:
    """An environment for the CLI: this test's database and data directory, nothing else."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("TRUYENTHANH_")}
    env.update(
        TRUYENTHANH_DATABASE_URL=database_url,
        TRUYENTHANH_DATA_DIR=str(data_dir),
        **{f"TRUYENTHANH_{k.upper()}": v for k, v in extra.items()},
    )
    return env


def run_cli(*args: str, env: dict[str, str], timeout: float = 120) -> subprocess.CompletedProcess:
    """Run `truyenthanh ARGS` to completion and return what it printed."""
    return subprocess.run(
        [CLI, *args], env=env, capture_output=True, text=True, timeout=timeout, check=False
    )


def free_port() -> int:
    """A TCP port on loopback that nothing listens on right now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@contextmanager
def running_server(*args: str, env: dict[str, str], port: int) -> Iterator[str]:
    """Start `truyenthanh ARGS`, wait until its health check answers, yield its base URL."""
    base = f"http://127.0.0.1:{port}"
    process = subprocess.Popen(
        [CLI, *args], env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    )
    try:
        deadline = time.monotonic() + 60
        while True:
            if process.poll() is not None:
                raise AssertionError(f"server exited early:\n{process.stdout.read()}")
            try:
                if httpx.get(f"{base}/api/v1/health", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline:
                raise AssertionError("server did not answer its health check within 60 s")
            time.sleep(0.1)
        yield base
    finally:
        process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        process.stdout.close()
