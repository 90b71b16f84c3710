import contextlib
import hashlib
import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections import Counter
from datetime import date, timedelta
from pathlib import Path

import httpx
import pytest
from sqlmodel import Session

from api.demo import prepare_demo
from api.serving import LISTENERS
from core.migrations import head_revision
from tests.processes import CLI, cli_env, free_port, run_cli, running_server


@pytest.fixture
def env(tmp_path, database_url):
    return cli_env(database_url=database_url, data_dir=tmp_path / "data")


@pytest.fixture
def empty_env(tmp_path, empty_database_url):
    return cli_env(database_url=empty_database_url, data_dir=tmp_path / "data")


def test_init_creates_then_reports_an_up_to_date_database(empty_env) -> None:
    first = run_cli("init", "--json", env=empty_env)
    assert first.returncode == 0, first.stderr
    created = json.loads(first.stdout)
    assert created["previous"] is None
    assert created["revision"] == head_revision()
    assert "password" not in first.stdout

    again = run_cli("init", env=empty_env)
    assert again.returncode == 0, again.stderr
    assert "Đã ở phiên bản mới nhất" in again.stdout


@pytest.mark.parametrize("command", ["serve", "scheduler"])
def test_processes_refuse_a_database_that_is_behind(empty_env, command) -> None:
    result = run_cli(command, env=empty_env, timeout=30)
    assert result.returncode == 2
    assert "truyenthanh init" in result.stderr
    assert "Traceback" not in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


@pytest.mark.parametrize("backend", ["sqlite"])
@pytest.mark.parametrize(
    ("command", "extra", "expected"),
    [
        ("init", {"database_url": "localhost/truyenthanh"}, "TRUYENTHANH_DATABASE_URL"),
        ("serve", {"database_url": "oracle://u:p@h/db"}, "chỉ hỗ trợ"),
        ("init", {"env": "production"}, "TRUYENTHANH_SECRET_KEY"),
        ("demo", {"env": "production", "secret_key": "ngắn"}, "TRUYENTHANH_SECRET_KEY"),
        ("init", {"database_url": "postgresql://u:p@127.0.0.1:1/x"}, "Không kết nối được"),
    ],
)
def test_bad_configuration_stops_with_one_sentence(
    tmp_path, database_url, command, extra, expected
) -> None:
    env = cli_env(database_url=database_url, data_dir=tmp_path / "data")
    env.update({f"TRUYENTHANH_{k.upper()}": v for k, v in extra.items()})
    result = run_cli(command, env=env, timeout=30)
    assert result.returncode == 2
    assert expected in result.stderr
    assert "Traceback" not in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


@pytest.mark.parametrize("backend", ["sqlite"])
def test_unwritable_data_directory_stops_with_one_sentence(tmp_path, database_url) -> None:
    blocker = tmp_path / "plain-file"
    blocker.write_text("")
    env = cli_env(database_url=database_url, data_dir=blocker / "data")
    result = run_cli("init", env=env)
    assert result.returncode == 2
    assert "Không ghi được vào thư mục" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


def test_serve_answers_over_http_with_several_workers(env) -> None:
    port = free_port()
    with running_server("serve", "--port", str(port), "--workers", "2", env=env, port=port) as base:
        health = httpx.get(f"{base}/api/v1/health").json()
        assert health["migration"]["up_to_date"] is True
        assert httpx.get(f"{base}/docs").status_code == 200
        assert "/api/v1/health" in httpx.get(f"{base}/openapi.json").json()["paths"]


def _sockets(port: int, state: str) -> set[str]:
    # Inodes of this port's TCP sockets in a state (0A listening, 01 connected), by /proc.
    found = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        for line in Path(table).read_text().splitlines()[1:]:
            fields = line.split()
            if int(fields[1].rsplit(":", 1)[1], 16) == port and fields[3] == state:
                found.add(fields[9])
    return found


def _holders(inodes: set[str]) -> Counter:
    # How many of the sockets each process holds.
    held: Counter = Counter()
    for fd in Path("/proc").glob("[0-9]*/fd/*"):
        with contextlib.suppress(OSError):
            link = os.readlink(fd)
            if link.startswith("socket:[") and link[8:-1] in inodes:
                held[fd.parent.parent.name] += 1
    return held


@pytest.mark.skipif(not hasattr(socket, "SO_REUSEPORT"), reason="one shared socket")
def test_workers_share_connections_that_arrive_together(env) -> None:
    # A morning's devices connect at once: with one socket for all, the first worker to
    # wake took every connection and the other served none.
    port = free_port()
    with running_server("serve", "--port", str(port), "--workers", "2", env=env, port=port):
        for _ in range(300):  # the second may still be starting
            if len(_sockets(port, "0A")) == 2 * LISTENERS:
                break
            time.sleep(0.1)
        listening = _holders(_sockets(port, "0A"))
        # Sockets of their own, several each: uvloop accepts one per socket per turn.
        assert sorted(listening.values()) == [LISTENERS, LISTENERS], listening
        devices = [socket.create_connection(("127.0.0.1", port)) for _ in range(40)]
        try:
            for device in devices:
                device.sendall(b"GET /api/v1/health HTTP/1.1\r\nHost: t\r\n\r\n")
            for device in devices:
                assert device.recv(65536).startswith(b"HTTP/1.1 200")
            held = _holders(_sockets(port, "01"))  # the server's ends: this port is theirs
        finally:
            for device in devices:
                device.close()
    assert len(held) == 2 and min(held.values()) >= 5, held


@pytest.mark.skipif(not hasattr(socket, "SO_REUSEPORT"), reason="no shared ports")
@pytest.mark.parametrize("backend", ["sqlite"])
@pytest.mark.parametrize("workers", ["1", "2"])
def test_serve_refuses_a_port_another_server_holds(env, workers) -> None:
    # Even one that lets others share its port, as our own workers do.
    with socket.socket() as other:
        other.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
        other.bind(("127.0.0.1", 0))
        other.listen()
        port = other.getsockname()[1]
        result = run_cli("serve", "--port", str(port), "--workers", workers, env=env, timeout=60)
        assert result.returncode == 2, result.stderr
        assert f"Lỗi: không mở được cổng {port} trên 127.0.0.1" in result.stderr
        assert "--port" in result.stderr
        assert len(_sockets(port, "0A")) == 1, "it did not join the other's port"


@pytest.mark.parametrize("backend", ["sqlite"])
def test_a_server_process_keeps_what_it_built_to_start_out_of_collections(env) -> None:
    # In its own process: a frozen test process would never free the apps of later tests.
    probe = (
        "import gc; from sqlalchemy import inspect; from scheduler.models import Playlist; "
        "from api.app import serve_app; serve_app(); "
        "print(gc.get_freeze_count(), inspect(Playlist).configured)"
    )
    result = subprocess.run(
        [sys.executable, "-c", probe], env=env, capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stderr
    frozen, configured = result.stdout.split()
    assert int(frozen) > 100_000, "the framework, the models and the app are frozen"
    # Set up on the first statement that names them, they made the first pull wait 20 ms.
    assert configured == "True", "the models are set up before the first request"


@pytest.mark.parametrize("backend", ["sqlite"])
def test_demo_serves_the_prepared_data(tmp_path, empty_database_url) -> None:
    env = cli_env(database_url=empty_database_url, data_dir=tmp_path / "data")
    port = free_port()
    with running_server("demo", "--port", str(port), env=env, port=port) as base:
        assert httpx.get(f"{base}/api/v1/health").json()["status"] == "ok"


# The demo is the embedded default's own job (SQLite); PostgreSQL deployments run `init`
# and `serve`, which have their own tests on both databases.
@pytest.mark.parametrize("backend", ["sqlite"])
def test_demo_walks_the_pipeline_on_an_empty_database(empty_env) -> None:
    first = run_cli("demo", "--no-serve", "--json", env=empty_env)
    assert first.returncode == 0, first.stderr
    summary = json.loads(first.stdout)
    assert summary["stations"] == ["TINH-SON-LA", "XA-CHIENG-PAN"]
    assert (summary["clusters"], summary["content_items"]) == (5, 3)
    assert summary["plan"].startswith("12/KH-UBND")
    assert [(a["username"], a["role"]) for a in summary["accounts"]] == [
        ("quantri", "admin"),
        ("kehoach.sonla", "planner"),
        ("vanhanh.chiengpan", "operator"),
        ("kiemtra.sonla", "auditor"),
    ]
    audio = summary["audio"]
    assert audio["rendered"] == 3
    assert audio["recording_language"] == "blt"
    assert audio["programme_seconds"] > 60
    assert (audio["bookings"], audio["playlists"]) == (3, 7)
    assert audio["airings"] > 50, "a month of simulated airings"

    port = free_port()
    with running_server("serve", "--port", str(port), env=empty_env, port=port) as base:
        for account in summary["accounts"]:
            login = httpx.post(
                f"{base}/api/v1/auth/token",
                data={"username": account["username"], "password": account["password"]},
            )
            assert login.status_code == 200, login.text
            token = login.json()["access_token"]
            me = httpx.get(f"{base}/api/v1/auth/me", headers={"Authorization": f"Bearer {token}"})
            assert me.json()["role"] == account["role"]
        device = {"Authorization": f"Bearer {summary['device']['token']}"}
        me = httpx.get(f"{base}/api/v1/devices/me", headers=device).json()
        assert (me["station"], me["cluster"]) == ("XA-CHIENG-PAN", "BAN-NA-VIENG")
        today = httpx.get(
            f"{base}/api/v1/stations/XA-CHIENG-PAN/playlists/{date.today().isoformat()}",
            headers=device,
        )
        assert today.status_code == 200 and today.json()["entries"], "every window is filled"
        sha256 = audio["programme_url"].rsplit("/", 1)[1]
        programme = httpx.get(f"{base}/api/v1/audio/{sha256}", headers=device)
        assert programme.status_code == 200
        assert hashlib.sha256(programme.content).hexdigest() == sha256

        # The simulated month gives the auditor something true to report, missed airings too.
        auditor = next(a for a in summary["accounts"] if a["role"] == "auditor")
        token = httpx.post(
            f"{base}/api/v1/auth/token",
            data={"username": auditor["username"], "password": auditor["password"]},
        ).json()["access_token"]
        last = date.today() - timedelta(days=1)
        report = httpx.get(
            f"{base}/api/v1/reports/compliance",
            headers={"Authorization": f"Bearer {token}"},
            params={"station": "TINH-SON-LA", "period": f"{last - timedelta(days=27)}..{last}"},
        ).json()
        totals = report["totals"]
        assert totals["planned"] > totals["aired"] > 0
        assert totals["missing"] > 0 and totals["partial"] > 0
        chain = httpx.get(
            f"{base}/api/v1/stations/XA-CHIENG-PAN/airings/verify",
            headers={"Authorization": f"Bearer {token}"},
        ).json()
        assert chain["ok"] and chain["records"] == audio["airings"]

    second = json.loads(run_cli("demo", "--no-serve", "--json", env=empty_env).stdout)
    for key in ("stations", "clusters", "content_items"):
        assert second[key] == summary[key]
    assert second["audio"]["rendered"] == 0, "nothing changed, nothing rendered again"
    assert second["audio"]["airings"] == audio["airings"], "replayed, not duplicated"
    # No fixed password anywhere: every run draws new ones.
    assert {a["password"] for a in second["accounts"]}.isdisjoint(
        a["password"] for a in summary["accounts"]
    )


def _sample_data(engine) -> None:
    with Session(engine) as session:
        prepare_demo(session)


def test_users_create_reads_the_password_from_stdin(env, engine) -> None:
    _sample_data(engine)
    created = subprocess.run(
        [
            CLI,
            "users",
            "create",
            "--username",
            "ct.chiengpan2",
            "--role",
            "operator",
            "--station",
            "XA-CHIENG-PAN",
            "--json",
        ],
        input="mật-khẩu-đủ-dài-123\n",
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    assert created.returncode == 0, created.stderr
    assert json.loads(created.stdout)["username"] == "ct.chiengpan2"
    assert "mật-khẩu" not in created.stdout

    short = subprocess.run(
        [
            CLI,
            "users",
            "create",
            "--username",
            "ct.short",
            "--role",
            "auditor",
            "--station",
            "TINH-SON-LA",
        ],
        input="ngan\n",
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    assert short.returncode == 2
    assert "ít nhất 10 ký tự" in short.stderr
    unknown = subprocess.run(
        [CLI, "users", "create", "--username", "ct.x", "--role", "operator", "--station", "NOPE"],
        input="mật-khẩu-đủ-dài-123\n",
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    assert unknown.returncode == 2
    assert "NOPE" in unknown.stderr


def test_tokens_create_and_revoke(env, engine) -> None:
    _sample_data(engine)
    created = run_cli(
        "tokens",
        "create",
        "--station",
        "XA-CHIENG-PAN",
        "--cluster",
        "BAN-HUOI-MA",
        "--json",
        env=env,
    )
    assert created.returncode == 0, created.stderr
    token = json.loads(created.stdout)
    assert token["token"].startswith("ttd_")
    wrong_cluster = run_cli(
        "tokens", "create", "--station", "XA-CHIENG-PAN", "--cluster", "NO-SUCH", env=env
    )
    assert wrong_cluster.returncode == 2
    assert "NO-SUCH" in wrong_cluster.stderr
    revoked = run_cli("tokens", "revoke", str(token["id"]), env=env)
    assert revoked.returncode == 0, revoked.stderr
    assert run_cli("tokens", "revoke", "424242", env=env).returncode == 2


def test_scheduler_runs_until_asked_to_stop(env) -> None:
    process = subprocess.Popen(
        [CLI, "scheduler"], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    try:
        assert "Bộ lập lịch đang chạy" in process.stdout.readline()
        process.send_signal(signal.SIGTERM)
        out, err = process.communicate(timeout=15)
    finally:
        if process.poll() is None:
            process.kill()
    assert process.returncode == 0, err
    assert "Bộ lập lịch đã dừng" in out
