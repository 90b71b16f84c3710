"""`truyenthanh agent` explains in one sentence what stops it."""

import subprocess

from tests.agent.conftest import agent_env
from tests.processes import CLI, free_port


def _agent(*args: str, cache) -> subprocess.CompletedProcess:
    return subprocess.run(
        [CLI, "agent", "--token", "ttd_thu", "--cache", str(cache), *args],
        env=agent_env(),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_an_unknown_output_stops_with_status_2(tmp_path) -> None:
    server = f"http://127.0.0.1:{free_port()}"
    unknown = _agent("--server", server, "--output", "loa", cache=tmp_path)
    assert unknown.returncode == 2
    assert "Không hiểu đầu ra 'loa'" in unknown.stderr


def test_once_without_a_server_says_so_and_fails(tmp_path) -> None:
    server = f"http://127.0.0.1:{free_port()}"
    result = _agent("--server", server, "--once", cache=tmp_path)
    assert result.returncode == 1
    assert "Lỗi: không kết nối được máy chủ" in result.stderr
