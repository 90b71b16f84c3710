"""The `truyenthanh` command line, with Vietnamese help for operators."""

import getpass
import json
import logging
import os
import signal
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import asdict
from datetime import date
from pathlib import Path
from typing import Annotated, Any

import typer
import uvicorn
from rich.progress import Progress
from sqlalchemy import Engine
from sqlmodel import Session, col, func, select

from api.demo import HISTORY_DAYS, DemoSummary, demo_base_url, prepare_demo, prepare_demo_audio
from audio.models import JobStatus, RenderJob
from audio.service import process_queue
from audio.store import MediaStore
from content.documents import document_text
from content.importer import NotAPlanError, parse_plan, plan_to_dict
from content.labels import CADENCE_NAMES, CHANNEL_NAMES, STAGE_NAMES
from content.reading import count_syllables, estimate_seconds, read_aloud
from content.repair import repair_text
from content.service import import_plan
from core.audit import Actor, act_as
from core.backup import backup, restore
from core.clock import utcnow
from core.db import check_connection, create_db_engine, session_scope
from core.errors import ConfigError, ProblemError
from core.identity import create_device_token, create_user, revoke_device_token
from core.migrations import current_revision, head_revision, require_current, upgrade
from core.models import DeviceToken, Role
from core.settings import Settings, load_settings, prepare_directories
from scheduler.airings import verify_chain
from scheduler.jobs import build_scheduler, give_up_lease
from scheduler.merges import merge_stations, plan_merge, read_renames
from scheduler.models import AiringCheckpoint, Station
from scheduler.retention import get_policy, horizon, purge_expired, purge_horizons, set_policy
from scheduler.service import enqueue_approved, get_cluster, get_station
from scheduler.stations_csv import import_stations_csv

app = typer.Typer(
    name="truyenthanh",
    help="Truyền thanh: lập lịch phát thanh cho đài truyền thanh xã, huyện, tỉnh.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)
users_app = typer.Typer(help="Quản lý tài khoản người dùng.", no_args_is_help=True)
tokens_app = typer.Typer(
    help="Quản lý mã thiết bị (cụm thu phát, playout agent).", no_args_is_help=True
)
airings_app = typer.Typer(help="Nhật ký phát sóng.", no_args_is_help=True)
app.add_typer(users_app, name="users")
app.add_typer(tokens_app, name="tokens")
app.add_typer(airings_app, name="airings")
retention_app = typer.Typer(
    help="Thời hạn lưu trữ nhật ký phát sóng và bản ghi âm (theo tỉnh).", no_args_is_help=True
)
app.add_typer(retention_app, name="retention")
stations_app = typer.Typer(help="Sáp nhập đài.", no_args_is_help=True)
app.add_typer(stations_app, name="stations")

SHUTDOWN_GRACE_S = 10
JsonOption = Annotated[bool, typer.Option("--json", help="In kết quả dạng JSON cho script.")]
HostOption = Annotated[str, typer.Option(help="Địa chỉ lắng nghe.")]
PortOption = Annotated[int, typer.Option(min=1, max=65535, help="Cổng lắng nghe.")]


@contextmanager
def _stops_cleanly() -> Iterator[None]:
    """Turn a configuration or input problem into one sentence on stderr and exit status 2."""
    try:
        yield
    except ConfigError as exc:
        typer.echo(f"Lỗi: {exc}", err=True)
        raise typer.Exit(2) from None
    except ProblemError as exc:
        typer.echo(f"Lỗi: {exc.detail}", err=True)
        raise typer.Exit(2) from None


def _cli_actor() -> Actor:
    return Actor(kind="system", id=None, name=f"cli:{getpass.getuser()}")


@contextmanager
def _database(*, write: bool = False) -> Iterator[Session]:
    """A session on the configured database; what it writes is signed by the CLI's user."""
    _, engine = _open(migrate=False)
    try:
        with session_scope(engine, write=write) as session:
            if write:
                act_as(session, _cli_actor())
            yield session
    finally:
        engine.dispose()


def _open(*, migrate: bool) -> tuple[Settings, Engine]:
    settings = load_settings()
    prepare_directories(settings)
    engine = create_db_engine(settings.database)
    check_connection(engine)
    if migrate:
        upgrade(engine)
    else:
        require_current(engine)
    return settings, engine


def _where(engine: Engine) -> str:
    return engine.url.render_as_string(hide_password=True)


def _print(data: dict[str, Any], *, as_json: bool, lines: list[str]) -> None:
    if as_json:
        typer.echo(json.dumps(data, ensure_ascii=False))
    else:
        for line in lines:
            typer.echo(line)


def _serve(settings: Settings, *, host: str, port: int, workers: int) -> None:
    typer.echo(f"Máy chủ chạy tại http://{host}:{port}/ (tài liệu API: /docs). Ctrl+C để dừng.")
    uvicorn.run(
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
        # Event streams stay open until their agents leave: do not wait for them forever.
        timeout_graceful_shutdown=SHUTDOWN_GRACE_S,
    )


@app.command()
def init(as_json: JsonOption = False) -> None:
    """Tạo mới hoặc nâng cấp cơ sở dữ liệu lên phiên bản mới nhất."""
    with _stops_cleanly():
        settings = load_settings()
        prepare_directories(settings)
        engine = create_db_engine(settings.database)
        check_connection(engine)
        before = current_revision(engine)
        after = upgrade(engine)
    _print(
        {
            "database": _where(engine),
            "backend": engine.dialect.name,
            "previous": before,
            "revision": after,
        },
        as_json=as_json,
        lines=[
            f"Cơ sở dữ liệu: {_where(engine)}",
            "Đã ở phiên bản mới nhất: " + str(after)
            if before == after
            else f"Đã nâng cấp từ {before or 'trống'} lên {after}.",
        ],
    )


@app.command()
def serve(
    host: HostOption = "127.0.0.1",
    port: PortOption = 8000,
    workers: Annotated[int, typer.Option(min=1, help="Số tiến trình xử lý.")] = 1,
) -> None:
    """Chạy máy chủ web và API."""
    with _stops_cleanly():
        settings, engine = _open(migrate=False)
        engine.dispose()
    _serve(settings, host=host, port=port, workers=workers)


@app.command("scheduler")
def run_scheduler() -> None:
    """Chạy bộ lập lịch (chỉ một tiến trình cho cả hệ thống)."""
    with _stops_cleanly():
        settings, engine = _open(migrate=False)
    scheduler = build_scheduler(settings=settings, engine=engine)
    # A signal handler only flips a flag: Event.set() from a handler can deadlock on
    # the lock the main thread holds inside Event.wait().
    signals: list[int] = []
    signal.signal(signal.SIGTERM, lambda number, _frame: signals.append(number))
    signal.signal(signal.SIGINT, lambda number, _frame: signals.append(number))
    scheduler.start()
    typer.echo(f"Bộ lập lịch đang chạy (múi giờ {settings.timezone}). Ctrl+C để dừng.")
    sys.stdout.flush()
    while not signals:
        time.sleep(0.2)
    # Let running jobs finish, but not for ever: every job's work is transactional, and
    # an interrupted render job is picked up again after a restart.
    stopping = threading.Thread(target=scheduler.shutdown, daemon=True)
    stopping.start()
    stopping.join(timeout=SHUTDOWN_GRACE_S)
    if stopping.is_alive():
        typer.echo("Bộ lập lịch buộc dừng khi một việc còn dở; việc đó sẽ được làm lại.")
        sys.stdout.flush()
        give_up_lease(engine)
        os._exit(0)
    give_up_lease(engine)
    engine.dispose()
    typer.echo("Bộ lập lịch đã dừng.")


@app.command()
def demo(
    no_serve: Annotated[
        bool, typer.Option("--no-serve", help="Chỉ chuẩn bị dữ liệu mẫu rồi dừng.")
    ] = False,
    host: HostOption = "127.0.0.1",
    port: PortOption = 8000,
    as_json: JsonOption = False,
) -> None:
    """Chuẩn bị dữ liệu mẫu (đài tỉnh, đài xã, cụm loa, nội dung) rồi chạy máy chủ."""
    with _stops_cleanly():
        settings, engine = _open(migrate=True)
        with Session(engine) as session:
            summary = prepare_demo(session)
        with Progress(disable=as_json, transient=True) as bars:
            summary.audio = prepare_demo_audio(
                engine,
                store=MediaStore(settings.media_path),
                base_url=demo_base_url(settings, host=host, port=port),
                on_job=None if as_json else _progress_bars(bars),
            )
        engine.dispose()
    url = f"http://{host}:{port}/"
    _print(
        {**asdict(summary), "url": url, "database": _where(engine)},
        as_json=as_json,
        lines=_demo_lines(summary, url=url, database=_where(engine)),
    )
    if not no_serve:
        _serve(settings, host=host, port=port, workers=1)


def _demo_lines(summary: DemoSummary, *, url: str, database: str) -> list[str]:
    lines = [
        f"Dữ liệu mẫu sẵn sàng trong {database}:",
        f"  đài: {', '.join(summary.stations)}",
        f"  cụm loa: {summary.clusters}, nội dung đã duyệt: {summary.content_items}",
        f"  kế hoạch: {summary.plan}",
        "",
        f"Tài khoản mẫu (mật khẩu mới cho lần chạy này), đăng nhập tại {url}login:",
    ]
    for account in summary.accounts:
        where = f" @ {account.station}" if account.station else ""
        lines.append(f"  {account.role:<9} {account.username:<20} {account.password}{where}")
    if summary.audio:
        audio = summary.audio
        lines += [
            "",
            f"Âm thanh: {audio.rendered} nội dung vừa tạo bằng giọng đọc ngoại tuyến; "
            f"bản ghi tiếng Thái của {audio.recording_speaker};",
            f"  {audio.programme}: {audio.programme_seconds / 60:.1f} phút, {audio.programme_url}",
            f"Lịch phát: {audio.bookings} lịch đặt (hằng tuần, hằng tháng), "
            f"{audio.playlists} danh sách phát cho 7 ngày tới; "
            f"{audio.airings} bản ghi phát sóng mô phỏng cho {HISTORY_DAYS} ngày qua.",
        ]
    if summary.device:
        lines += [
            "",
            f"Mã thiết bị mẫu ({summary.device.station} / {summary.device.cluster}), "
            "chỉ hiện một lần:",
            f"  {summary.device.token}",
        ]
    first = summary.accounts[1] if len(summary.accounts) > 1 else None
    if first:
        lines += [
            "",
            "Lấy mã truy cập API:",
            f"  curl -d 'username={first.username}&password={first.password}' "
            f"{url}api/v1/auth/token",
        ]
    return lines


def _read_text(file: Path) -> str:
    try:
        return file.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"Không đọc được tệp {file}: {exc}.") from None


def _read_bytes(file: Path) -> bytes:
    try:
        return file.read_bytes()
    except FileNotFoundError:
        raise ConfigError(f"Không có tệp {file}.") from None
    except IsADirectoryError:
        raise ConfigError(f"{file} là một thư mục, không phải tệp.") from None
    except PermissionError:
        raise ConfigError(f"Không có quyền đọc tệp {file}.") from None
    except OSError as exc:
        raise ConfigError(f"Không đọc được tệp {file}: {exc}.") from None


def _read_password() -> str:
    if sys.stdin.isatty():
        return typer.prompt("Mật khẩu", hide_input=True, confirmation_prompt="Nhập lại mật khẩu")
    return sys.stdin.readline().rstrip("\r\n")


@users_app.command("create")
def users_create(
    username: Annotated[str, typer.Option(help="Tên đăng nhập (chữ thường không dấu).")],
    role: Annotated[Role, typer.Option(help="Vai trò.")],
    station: Annotated[
        str | None, typer.Option(help="Mã đài làm phạm vi (bắt buộc trừ quản trị viên).")
    ] = None,
    full_name: Annotated[str, typer.Option(help="Họ và tên.")] = "",
    as_json: JsonOption = False,
) -> None:
    """Tạo tài khoản; mật khẩu được hỏi khi chạy hoặc đọc từ stdin."""
    with _stops_cleanly():
        _, engine = _open(migrate=False)
        password = _read_password()
        with session_scope(engine, write=True) as session:
            act_as(session, _cli_actor())
            station_id = get_station(session, code=station).id if station else None
            user = create_user(
                session,
                username=username,
                password=password,
                role=role,
                station_id=station_id,
                full_name=full_name,
            )
            data = {"username": user.username, "role": user.role, "station": station}
    _print(data, as_json=as_json, lines=[f"Đã tạo tài khoản {data['username']} ({role.value})."])


@tokens_app.command("create")
def tokens_create(
    station: Annotated[str, typer.Option(help="Mã đài của thiết bị.")],
    cluster: Annotated[str | None, typer.Option(help="Mã cụm loa của thiết bị.")] = None,
    name: Annotated[str, typer.Option(help="Tên gợi nhớ của thiết bị.")] = "",
    as_json: JsonOption = False,
) -> None:
    """Tạo mã thiết bị; mã chỉ hiện một lần, hãy chép ngay vào thiết bị."""
    with _stops_cleanly(), _database(write=True) as session:
        home = get_station(session, code=station)
        spot = get_cluster(session, station=home, code=cluster) if cluster else None
        device, token = create_device_token(
            session,
            station_id=home.id,
            cluster_id=spot.id if spot else None,
            name=name or f"{station}/{cluster or '*'}",
            created_by=_cli_actor().name,
        )
        data = {"id": device.id, "station": station, "cluster": cluster, "token": token}
    _print(
        data,
        as_json=as_json,
        lines=[
            f"Mã thiết bị số {data['id']} cho {station}{'/' + cluster if cluster else ''} "
            "(chỉ hiện một lần):",
            f"  {token}",
        ],
    )


def _chosen_stations(
    session: Session, *, codes: list[str] | None, provinces_only: bool
) -> list[Station]:
    """The stations named on the command line, or every (top-level) station when none is."""
    if codes:
        return [get_station(session, code=code) for code in codes]
    query = select(Station).order_by(Station.code)
    if provinces_only:
        query = query.where(col(Station.parent_id).is_(None))
    return list(session.exec(query))


@airings_app.command("verify")
def airings_verify(
    stations: Annotated[
        list[str] | None, typer.Argument(help="Mã đài; bỏ trống để kiểm tra mọi đài.")
    ] = None,
    as_json: JsonOption = False,
) -> None:
    """Kiểm tra chuỗi băm của nhật ký phát sóng; báo bản ghi đầu tiên bị sửa hoặc xoá."""
    with _stops_cleanly():
        settings, engine = _open(migrate=False)
        with Session(engine) as session:
            chosen = _chosen_stations(session, codes=stations, provinces_only=False)
            checks = [
                verify_chain(session, station=station, key=settings.signing_key)
                for station in chosen
            ]
    lines = []
    for check in checks:
        if check.ok and check.purged:
            lines.append(
                f"{check.station}: nguyên vẹn, {check.records} bản ghi; {check.purged} bản ghi "
                "cũ đã xoá theo thời hạn lưu trữ (điểm mốc có chữ ký hợp lệ)."
            )
        elif check.ok:
            lines.append(f"{check.station}: nguyên vẹn, {check.records} bản ghi.")
        else:
            broken = check.first_broken or {}
            lines.append(
                f"{check.station}: HỎNG tại bản ghi số {broken.get('seq')}"
                f"{' (' + broken['id'] + ')' if broken.get('id') else ''}: {broken.get('problem')}."
            )
    _print({"stations": [asdict(check) for check in checks]}, as_json=as_json, lines=lines)
    if not all(check.ok for check in checks):
        raise typer.Exit(1)


def _megabytes(size: int) -> str:
    return f"{size / 1_000_000:.1f} MB".replace(".", ",")


@app.command("backup")
def backup_command(
    output: Annotated[
        Path | None,
        typer.Option(
            "--output",
            "-o",
            help="Tệp sao lưu (.tar); mặc định <thư mục dữ liệu>/backups/truyenthanh-<giờ>.tar.",
        ),
    ] = None,
    as_json: JsonOption = False,
) -> None:
    """Sao lưu cơ sở dữ liệu và kho âm thanh vào một tệp .tar (máy chủ vẫn chạy được)."""
    with _stops_cleanly():
        settings = load_settings()
        prepare_directories(settings)
        engine = create_db_engine(settings.database)
        check_connection(engine)
        engine.dispose()
        result = backup(settings, output=output)
    lines = [
        f"Đã sao lưu vào {result.path} ({_megabytes(result.size)}).",
        f"  Cơ sở dữ liệu {result.backend}, phiên bản {result.revision or 'trống'}: "
        f"{_megabytes(result.database_size)}.",
        f"  Âm thanh: {result.media_files} tệp, {_megabytes(result.media_bytes)}.",
        "  Tệp sao lưu chứa khoá bí mật của máy chủ (secret.key): hãy cất giữ cẩn thận."
        if result.secret_key
        else "  Khoá bí mật (TRUYENTHANH_SECRET_KEY) không nằm trong tệp sao lưu: hãy giữ "
        "riêng, cần nó để kiểm tra điểm mốc lưu trữ của nhật ký phát sóng.",
    ]
    if result.missing_media:
        lines.append(
            f"  Cảnh báo: {len(result.missing_media)} tệp âm thanh có trong cơ sở dữ liệu "
            f"nhưng không có trong kho, ví dụ {result.missing_media[0]}."
        )
    if result.damaged_media:
        lines.append(
            f"  Cảnh báo: {len(result.damaged_media)} tệp âm thanh trong kho không khớp mã băm "
            f"(hỏng), ví dụ {result.damaged_media[0]}; khi khôi phục sẽ bỏ qua."
        )
    _print(asdict(result), as_json=as_json, lines=lines)


@app.command("restore")
def restore_command(
    archive: Annotated[
        Path, typer.Argument(help="Tệp sao lưu (.tar) do `truyenthanh backup` tạo.")
    ],
    force: Annotated[
        bool,
        typer.Option("--force", help="Ghi đè cơ sở dữ liệu đang có dữ liệu (dữ liệu đó sẽ mất)."),
    ] = False,
    as_json: JsonOption = False,
) -> None:
    """Khôi phục bản sao lưu sau khi kiểm tra mã băm; hãy dừng máy chủ và bộ lập lịch trước."""
    with _stops_cleanly():
        # Nothing is created, not even the data directory, before the archive is checked.
        settings = load_settings()
        result = restore(settings, archive=archive, force=force)
    where = settings.database.render_as_string(hide_password=True)
    lines = [
        f"Đã khôi phục bản sao lưu lập lúc {result.created_at} vào {where}.",
        f"  Âm thanh: {result.media_files} tệp.",
    ]
    if result.secret_key:
        lines.append("  Đã đặt lại khoá bí mật của máy chủ từ bản sao lưu.")
    if result.skipped_media:
        lines.append(f"  Bỏ qua {len(result.skipped_media)} tệp âm thanh đã hỏng từ khi sao lưu.")
    if result.revision != head_revision():
        lines.append(
            f"  Cơ sở dữ liệu ở phiên bản {result.revision}; hãy chạy `truyenthanh init` "
            f"để nâng cấp lên {head_revision()}."
        )
    lines.append("  Kiểm tra nhật ký phát sóng: truyenthanh airings verify")
    _print(asdict(result) | {"database": where}, as_json=as_json, lines=lines)


def _retention_view(session: Session, station: Station) -> dict[str, Any]:
    policy = get_policy(session, station=station)
    _, keeps_from = horizon(days=policy.days, now=utcnow(), timezone=station.timezone)
    purged = session.exec(
        select(func.coalesce(func.sum(AiringCheckpoint.count), 0)).where(
            AiringCheckpoint.station_id == station.id
        )
    ).one()
    purged_before = purge_horizons(session, station_ids={station.id}).get(station.id)
    return {
        "station": station.code,
        "province": policy.province,
        "days": policy.days,
        "default": policy.default,
        "keeps_from": keeps_from.isoformat(),
        "purged_before": purged_before.isoformat() if purged_before else None,
        "purged_records": purged,
    }


@retention_app.command("show")
def retention_show(
    stations: Annotated[
        list[str] | None, typer.Argument(help="Mã đài; bỏ trống để xem mọi đài cấp tỉnh.")
    ] = None,
    as_json: JsonOption = False,
) -> None:
    """Xem thời hạn lưu trữ và những gì đã xoá theo thời hạn đó."""
    with _stops_cleanly(), _database() as session:
        chosen = _chosen_stations(session, codes=stations, provinces_only=True)
        views = [_retention_view(session, station) for station in chosen]
    lines = []
    for view in views:
        days = f"{view['days']} ngày" + (" (mặc định)" if view["default"] else "")
        line = (
            f"{view['station']}: lưu {days} theo đài {view['province']}, "
            f"giữ từ ngày {date.fromisoformat(view['keeps_from']):%d/%m/%Y}"
        )
        if view["purged_before"]:
            line += (
                f"; đã xoá {view['purged_records']} bản ghi phát sóng trước ngày "
                f"{date.fromisoformat(view['purged_before']):%d/%m/%Y}"
            )
        lines.append(line + ".")
    _print({"stations": views}, as_json=as_json, lines=lines)


@retention_app.command("set")
def retention_set(
    station: Annotated[str, typer.Argument(help="Mã đài cấp tỉnh.")],
    days: Annotated[int, typer.Option(help="Số ngày lưu nhật ký phát sóng và bản ghi âm.")],
    as_json: JsonOption = False,
) -> None:
    """Đặt thời hạn lưu trữ cho cả tỉnh (mặc định 730 ngày, tức hai năm)."""
    with _stops_cleanly(), _database(write=True) as session:
        home = get_station(session, code=station)
        set_policy(session, station=home, days=days, by=_cli_actor().name)
        view = _retention_view(session, home)
    _print(
        view,
        as_json=as_json,
        lines=[
            f"Đài {station} và các đài trực thuộc lưu nhật ký phát sóng và bản ghi âm "
            f"{days} ngày (giữ từ ngày {date.fromisoformat(view['keeps_from']):%d/%m/%Y})."
        ],
    )


@retention_app.command("purge")
def retention_purge(as_json: JsonOption = False) -> None:
    """Xoá ngay những gì quá thời hạn lưu trữ (bộ lập lịch làm việc này hằng đêm)."""
    with _stops_cleanly():
        settings, engine = _open(migrate=False)
        report = purge_expired(
            engine,
            key=settings.signing_key,
            store=MediaStore(settings.media_path),
            actor=_cli_actor(),
        )
        engine.dispose()
    lines = [
        f"Đã xoá {report.records} bản ghi phát sóng, {report.recordings} bản ghi âm "
        f"({report.files} tệp âm thanh) quá thời hạn lưu trữ."
    ]
    for station in report.stations:
        if station.refused:
            lines.append(f"  {station.station}: KHÔNG XOÁ — {station.refused}.")
        elif station.records:
            lines.append(
                f"  {station.station}: {station.records} bản ghi các ngày "
                f"{station.first_day:%d/%m/%Y}–{station.last_day:%d/%m/%Y}, có điểm mốc ký."
            )
    data = asdict(report) | {"records": report.records}
    _print(data, as_json=as_json, lines=lines)
    if any(station.refused for station in report.stations):
        raise typer.Exit(1)


@stations_app.command("merge")
def stations_merge(
    source: Annotated[str, typer.Argument(help="Mã đài được sáp nhập (đài nguồn).")],
    target: Annotated[str, typer.Argument(help="Mã đài nhận sáp nhập.")],
    rename: Annotated[
        list[str] | None,
        typer.Option("--rename", help="Đổi mã cụm loa trùng: CŨ=MỚI (lặp lại được)."),
    ] = None,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Chỉ cho xem những gì sẽ chuyển, không đổi gì.")
    ] = False,
    as_json: JsonOption = False,
) -> None:
    """Sáp nhập đài SOURCE vào đài TARGET: cụm loa, thiết bị, tài khoản, lịch sắp tới và
    nội dung chuyển sang; đài nguồn giữ nguyên lịch sử, chỉ còn để tra cứu."""
    with _stops_cleanly():
        settings = load_settings()
        renames = read_renames(rename or [])
        with _database(write=True) as session:
            moving, into = get_station(session, code=source), get_station(session, code=target)
            if dry_run:
                plan = plan_merge(session, source=moving, target=into, rename=renames)
                session.rollback()
            else:
                plan = merge_stations(
                    session,
                    source=moving,
                    target=into,
                    rename=renames,
                    merged_by=_cli_actor().name,
                    base_url=settings.public_base_url,
                )
    verb = "Đã sáp nhập" if plan.done else "Sẽ sáp nhập (chạy thử, chưa đổi gì)"
    lines = [
        f"{verb} đài {plan.source} vào đài {plan.target}; cụm loa phát theo lịch của đài "
        f"{plan.target} từ ngày {plan.effective_day:%d/%m/%Y}.",
        f"  Cụm loa: {', '.join(_moved(c) for c in plan.clusters) or 'không có'}.",
        f"  Lịch phát sắp tới: {len(plan.bookings)}; nội dung: {len(plan.content_items)}; "
        f"bản ghi âm: {len(plan.recordings)}; chương trình: {len(plan.programmes)}; "
        f"tài khoản: {len(plan.users)}; thiết bị: {len(plan.devices)}.",
    ]
    if plan.clashes:
        lines.append(
            f"  TRÙNG MÃ cụm loa: {', '.join(plan.clashes)} — thêm --rename CŨ=MỚI cho từng cụm."
        )
    _print(plan.as_dict(), as_json=as_json, lines=lines)
    if plan.clashes:
        raise typer.Exit(1)


def _moved(cluster: dict[str, Any]) -> str:
    if cluster["from"] == cluster["to"]:
        return cluster["from"]
    return f"{cluster['from']} → {cluster['to']}"


@tokens_app.command("revoke")
def tokens_revoke(token_id: Annotated[int, typer.Argument(help="Số của mã thiết bị.")]) -> None:
    """Thu hồi một mã thiết bị; thiết bị dùng mã này bị từ chối ngay."""
    with _stops_cleanly(), _database(write=True) as session:
        device = session.get(DeviceToken, token_id)
        if device is None:
            raise ConfigError(f"Không có mã thiết bị số {token_id}.")
        revoke_device_token(session, device=device)
    typer.echo(f"Đã thu hồi mã thiết bị số {token_id}.")


@app.command()
def reading(
    text: Annotated[str, typer.Argument(help="Văn bản cần đọc; dùng - để đọc từ stdin.")],
    station: Annotated[
        str | None, typer.Option(help="Mã đài, để dùng từ điển viết tắt riêng của đài.")
    ] = None,
    as_json: JsonOption = False,
) -> None:
    """In ra đúng những gì giọng đọc sẽ nói (viết tắt, số hiệu văn bản, ngày tháng, con số)."""
    source = sys.stdin.read() if text == "-" else text
    lexicon = None
    with _stops_cleanly():
        if station:
            _, engine = _open(migrate=False)
            with session_scope(engine) as session:
                lexicon = get_station(session, code=station).lexicon
    spoken = read_aloud(source, overrides=lexicon)
    data = {
        "reading": spoken,
        "syllables": count_syllables(spoken),
        "estimated_seconds": round(estimate_seconds(spoken), 1),
    }
    _print(data, as_json=as_json, lines=[spoken])


@app.command("import-plan")
def import_plan_command(
    file: Annotated[
        Path, typer.Argument(help="Tệp kế hoạch: văn bản thường, Markdown, PDF hoặc Word .docx.")
    ],
    station: Annotated[str | None, typer.Option(help="Mã đài sở hữu kế hoạch.")] = None,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Chỉ đọc và in kết quả, không lưu.")
    ] = False,
    as_json: JsonOption = False,
) -> None:
    """Đọc một văn bản kế hoạch tuyên truyền và tạo kế hoạch nháp cùng các yêu cầu phát sóng."""
    with _stops_cleanly():
        text = document_text(_read_bytes(file))
        try:
            parsed = parse_plan(text)
        except NotAPlanError as exc:
            raise ConfigError(str(exc).rstrip(".")) from None
        repairs = repair_text(text).repairs
        data = {**plan_to_dict(parsed), "repairs": [asdict(r) for r in repairs]}
        if not dry_run:
            with _database(write=True) as session:
                owner = get_station(session, code=station).id if station else None
                plan, _ = import_plan(
                    session, text=text, station_id=owner, author=_cli_actor().name
                )
                data = {"id": plan.id, **data}
    lines = [
        f"Kế hoạch: {data['number'] or '(không ghi số)'} — {data['title']}",
        f"Cơ quan ban hành: {data['issuer'] or '?'}; ngày: {data['date'] or '?'}; "
        f"năm: {data['year'] or '?'}",
        f"Chủ đề tuyên truyền: {len(data['themes'])}",
        *(f"  - {theme['title']}" for theme in data["themes"]),
        *(
            [f"Đã sửa {len(repairs)} chỗ chữ hỏng khi trích xuất (văn bản gốc được lưu nguyên)."]
            if repairs
            else []
        ),
        f"Yêu cầu phát sóng, truyền thông: {len(data['requirements'])}",
        *(
            f"  - {CHANNEL_NAMES[r['channel']]}, "
            f"{CADENCE_NAMES.get(r['cadence'], 'không rõ tần suất')}"
            + (f", {r['minutes_min']}-{r['minutes_max']} phút" if r["minutes_min"] else "")
            + f", ngôn ngữ {', '.join(r['languages'])}"
            for r in data["requirements"]
        ),
    ]
    if "id" in data:
        lines.append(f"Đã lưu thành kế hoạch nháp số {data['id']}.")
    _print(data, as_json=as_json, lines=lines)


def _progress_bars(bars: Progress) -> Callable[[RenderJob], Callable[[str, int], None]]:
    def on_job(job: RenderJob) -> Callable[[str, int], None]:
        task = bars.add_task(f"Nội dung số {job.item_id}", total=100)
        return lambda stage, percent: bars.update(
            task,
            completed=percent,
            description=f"Nội dung số {job.item_id}: {STAGE_NAMES.get(stage, stage)}",
        )

    return on_job


@app.command()
def render(
    item_ids: Annotated[
        list[int] | None,
        typer.Argument(help="Số của các nội dung; bỏ trống để làm mọi nội dung đã duyệt."),
    ] = None,
    as_json: JsonOption = False,
) -> None:
    """Tạo âm thanh cho nội dung đã duyệt, bằng giọng đọc theo cài đặt của đài."""
    with _stops_cleanly():
        settings, engine = _open(migrate=False)
        with session_scope(engine, write=True) as session:
            act_as(session, _cli_actor())
            jobs = enqueue_approved(
                session, item_ids=item_ids or None, created_by=_cli_actor().name
            )
            job_ids = [job.id for job in jobs]
    store = MediaStore(settings.media_path)
    with Progress(disable=as_json, transient=False) as bars:
        process_queue(engine, store=store, worker=f"cli-{os.getpid()}", on_job=_progress_bars(bars))
    with session_scope(engine) as session:
        results = [session.get(RenderJob, job_id) for job_id in job_ids]
    data = {
        "jobs": [
            {
                "id": j.id,
                "item_id": j.item_id,
                "status": j.status,
                "asset": j.asset_sha256,
                "error": j.error,
            }
            for j in results
        ]
    }
    failed = [j for j in results if j.status != JobStatus.done]
    _print(
        data,
        as_json=as_json,
        lines=[
            f"Đã tạo âm thanh cho {len(results) - len(failed)}/{len(results)} nội dung.",
            *(
                f"  nội dung số {j.item_id}: {j.status} — {j.error or 'đang chờ thử lại'}"
                for j in failed
            ),
        ],
    )
    if failed:
        raise typer.Exit(1)


@app.command("import-stations")
def import_stations_command(
    file: Annotated[Path, typer.Argument(help="Tệp CSV danh sách đài và cụm loa.")],
    as_json: JsonOption = False,
) -> None:
    """Nhập đài và cụm loa của cả tỉnh từ một tệp CSV (dòng đã có thì bỏ qua)."""
    with _stops_cleanly():
        text = _read_text(file)
        try:
            with _database(write=True) as session:
                result = import_stations_csv(session, text=text, may_attach=lambda _: True)
        except ProblemError as exc:
            for error in exc.errors[:20]:
                typer.echo(f"  dòng {error.get('line', '?')}: {error.get('msg')}", err=True)
            raise
    data = {
        "stations_created": result.stations_created,
        "clusters_created": result.clusters_created,
        "skipped": result.skipped,
    }
    _print(
        data,
        as_json=as_json,
        lines=[
            f"Đã tạo {result.stations_created} đài, {result.clusters_created} cụm loa; "
            f"bỏ qua {result.skipped} dòng đã có.",
        ],
    )


@app.command("agent")
def agent_command(
    server: Annotated[
        str, typer.Option(help="Địa chỉ máy chủ, ví dụ https://truyenthanh.tinh.vn.")
    ],
    token: Annotated[
        str,
        typer.Option(envvar="TRUYENTHANH_AGENT_TOKEN", help="Mã thiết bị (ttd_…) do đài cấp."),
    ],
    cache: Annotated[
        Path, typer.Option(help="Thư mục lưu lịch phát, âm thanh và nhật ký phát của máy này.")
    ],
    output: Annotated[
        str, typer.Option(help="Đầu ra âm thanh: null, file:THƯ_MỤC, ffplay hoặc mpv.")
    ] = "ffplay",
    days: Annotated[
        int, typer.Option(min=0, max=14, help="Số ngày tải lịch trước, ngoài hôm nay.")
    ] = 3,
    once: Annotated[
        bool,
        typer.Option("--once", help="Chỉ đồng bộ một lần (lịch, âm thanh, nhật ký) rồi dừng."),
    ] = False,
    start_grace: Annotated[
        float, typer.Option(min=0, help="Trễ quá số giây này thì bỏ qua buổi phát và ghi lý do.")
    ] = 60.0,
    sync_interval: Annotated[
        float, typer.Option(min=0.2, help="Số giây giữa hai lần hỏi lịch mới.")
    ] = 60.0,
    heartbeat_interval: Annotated[
        float, typer.Option(min=0.2, help="Số giây giữa hai lần báo trạng thái.")
    ] = 60.0,
    events_poll: Annotated[
        float,
        typer.Option(min=0.2, help="Khi luồng tin khẩn cấp hỏng: số giây giữa hai lần hỏi lại."),
    ] = 5.0,
    as_json: JsonOption = False,
) -> None:
    """Tác tử phát thanh của xã: tải lịch và âm thanh, phát đúng giờ, báo cáo buổi phát."""
    # Imported here: the agent runs on a commune's machine and needs none of the server.
    from agent.client import Refused, Unreachable
    from agent.output import OutputError
    from agent.runner import Options, serve, sync_once

    options = Options(
        server=server,
        token=token,
        cache=cache,
        output=output,
        days=days,
        start_grace=start_grace,
        sync_interval=sync_interval,
        heartbeat_interval=heartbeat_interval,
        events_poll=events_poll,
    )
    if not once:
        try:
            status = serve(options)
        except OutputError as exc:
            typer.echo(f"Lỗi: {exc}", err=True)
            raise typer.Exit(2) from None
        raise typer.Exit(status)
    try:
        data = sync_once(options)
    except (Unreachable, Refused) as exc:
        typer.echo(f"Lỗi: {exc}", err=True)
        raise typer.Exit(1) from None
    _print(
        data,
        as_json=as_json,
        lines=[
            f"Đài {data['station']}{'/' + data['cluster'] if data['cluster'] else ''}: "
            f"lịch {len(data['days'])} ngày, {data['entries_ahead']} buổi sắp phát.",
            f"Âm thanh: {data['audio_files']} tệp, đủ {data['cache_fill']:.0%}; "
            f"vừa tải {data['downloaded']}, tải lại {data['repaired']} tệp hỏng.",
            f"Nhật ký phát: đã gửi {data['records_sent']}, còn chờ {data['records_pending']}, "
            f"bị từ chối {data['records_rejected']}.",
        ],
    )


def main() -> None:
    """Console entry point."""
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    logging.getLogger("alembic").setLevel(logging.WARNING)
    app()
