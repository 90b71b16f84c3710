"""The `truyenthanh` command line, with Vietnamese help for operators."""

import logging
import os
import signal
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import asdict
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.progress import Progress
from sqlmodel import Session

from api.cli_records import airings_app, backup_command, restore_command, retention_app
from api.cli_support import (
    JsonOption,
    cli_actor,
    database,
    database_where,
    open_database,
    print_result,
    stops_cleanly,
)
from api.demo import HISTORY_DAYS, DemoSummary, demo_base_url, prepare_demo, prepare_demo_audio
from api.serving import SHUTDOWN_GRACE_S, refuse_taken_port, run_server
from audio.models import JobStatus, RenderJob
from audio.service import process_queue
from audio.store import MediaStore
from content.documents import document_text
from content.importer import NotAPlanError, parse_plan, plan_to_dict
from content.labels import CADENCE_NAMES, CHANNEL_NAMES, STAGE_NAMES
from content.reading import count_syllables, estimate_seconds, read_aloud
from content.repair import repair_text
from content.service import import_plan
from core.audit import act_as
from core.db import check_connection, create_db_engine, session_scope
from core.errors import ConfigError, ProblemError
from core.identity import create_device_token, create_user, revoke_device_token
from core.migrations import current_revision, upgrade
from core.models import DeviceToken, Role
from core.settings import Settings, load_settings, prepare_directories
from scheduler.jobs import build_scheduler, give_up_lease
from scheduler.merges import merge_stations, plan_merge, read_renames
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
app.add_typer(users_app, name="users")
app.add_typer(tokens_app, name="tokens")
app.add_typer(airings_app, name="airings")
app.add_typer(retention_app, name="retention")
stations_app = typer.Typer(help="Sáp nhập đài.", no_args_is_help=True)
app.add_typer(stations_app, name="stations")

HostOption = Annotated[str, typer.Option(help="Địa chỉ lắng nghe.")]
PortOption = Annotated[int, typer.Option(min=1, max=65535, help="Cổng lắng nghe.")]


def _serve(settings: Settings, *, host: str, port: int, workers: int) -> None:
    with stops_cleanly():
        refuse_taken_port(host, port)
    typer.echo(f"Máy chủ chạy tại http://{host}:{port}/ (tài liệu API: /docs). Ctrl+C để dừng.")
    run_server(host=host, port=port, workers=workers)


@app.command()
def init(as_json: JsonOption = False) -> None:
    """Tạo mới hoặc nâng cấp cơ sở dữ liệu lên phiên bản mới nhất."""
    with stops_cleanly():
        settings = load_settings()
        prepare_directories(settings)
        engine = create_db_engine(settings.database)
        check_connection(engine)
        before = current_revision(engine)
        after = upgrade(engine)
    print_result(
        {
            "database": database_where(engine),
            "backend": engine.dialect.name,
            "previous": before,
            "revision": after,
        },
        as_json=as_json,
        lines=[
            f"Cơ sở dữ liệu: {database_where(engine)}",
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
    with stops_cleanly():
        settings, engine = open_database(migrate=False)
        engine.dispose()
    _serve(settings, host=host, port=port, workers=workers)


@app.command("scheduler")
def run_scheduler() -> None:
    """Chạy bộ lập lịch (chỉ một tiến trình cho cả hệ thống)."""
    with stops_cleanly():
        settings, engine = open_database(migrate=False)
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
    with stops_cleanly():
        settings, engine = open_database(migrate=True)
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
    print_result(
        {**asdict(summary), "url": url, "database": database_where(engine)},
        as_json=as_json,
        lines=_demo_lines(summary, url=url, database=database_where(engine)),
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
    with stops_cleanly():
        _, engine = open_database(migrate=False)
        password = _read_password()
        with session_scope(engine, write=True) as session:
            act_as(session, cli_actor())
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
    print_result(
        data, as_json=as_json, lines=[f"Đã tạo tài khoản {data['username']} ({role.value})."]
    )


@tokens_app.command("create")
def tokens_create(
    station: Annotated[str, typer.Option(help="Mã đài của thiết bị.")],
    cluster: Annotated[str | None, typer.Option(help="Mã cụm loa của thiết bị.")] = None,
    name: Annotated[str, typer.Option(help="Tên gợi nhớ của thiết bị.")] = "",
    as_json: JsonOption = False,
) -> None:
    """Tạo mã thiết bị; mã chỉ hiện một lần, hãy chép ngay vào thiết bị."""
    with stops_cleanly(), database(write=True) as session:
        home = get_station(session, code=station)
        spot = get_cluster(session, station=home, code=cluster) if cluster else None
        device, token = create_device_token(
            session,
            station_id=home.id,
            cluster_id=spot.id if spot else None,
            name=name or f"{station}/{cluster or '*'}",
            created_by=cli_actor().name,
        )
        data = {"id": device.id, "station": station, "cluster": cluster, "token": token}
    print_result(
        data,
        as_json=as_json,
        lines=[
            f"Mã thiết bị số {data['id']} cho {station}{'/' + cluster if cluster else ''} "
            "(chỉ hiện một lần):",
            f"  {token}",
        ],
    )


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
    with stops_cleanly():
        settings = load_settings()
        renames = read_renames(rename or [])
        with database(write=True) as session:
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
                    merged_by=cli_actor().name,
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
    print_result(plan.as_dict(), as_json=as_json, lines=lines)
    if plan.clashes:
        raise typer.Exit(1)


def _moved(cluster: dict[str, Any]) -> str:
    if cluster["from"] == cluster["to"]:
        return cluster["from"]
    return f"{cluster['from']} → {cluster['to']}"


@tokens_app.command("revoke")
def tokens_revoke(token_id: Annotated[int, typer.Argument(help="Số của mã thiết bị.")]) -> None:
    """Thu hồi một mã thiết bị; thiết bị dùng mã này bị từ chối ngay."""
    with stops_cleanly(), database(write=True) as session:
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
    with stops_cleanly():
        if station:
            _, engine = open_database(migrate=False)
            with session_scope(engine) as session:
                lexicon = get_station(session, code=station).lexicon
    spoken = read_aloud(source, overrides=lexicon)
    data = {
        "reading": spoken,
        "syllables": count_syllables(spoken),
        "estimated_seconds": round(estimate_seconds(spoken), 1),
    }
    print_result(data, as_json=as_json, lines=[spoken])


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
    with stops_cleanly():
        text = document_text(_read_bytes(file))
        try:
            parsed = parse_plan(text)
        except NotAPlanError as exc:
            raise ConfigError(str(exc).rstrip(".")) from None
        repairs = repair_text(text).repairs
        data = {**plan_to_dict(parsed), "repairs": [asdict(r) for r in repairs]}
        if not dry_run:
            with database(write=True) as session:
                owner = get_station(session, code=station).id if station else None
                plan, _ = import_plan(session, text=text, station_id=owner, author=cli_actor().name)
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
    print_result(data, as_json=as_json, lines=lines)


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
    with stops_cleanly():
        settings, engine = open_database(migrate=False)
        with session_scope(engine, write=True) as session:
            act_as(session, cli_actor())
            jobs = enqueue_approved(session, item_ids=item_ids or None, created_by=cli_actor().name)
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
    print_result(
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
    with stops_cleanly():
        text = _read_text(file)
        try:
            with database(write=True) as session:
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
    print_result(
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
    print_result(
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


# Defined with the other commands about the records kept.
app.command("backup")(backup_command)
app.command("restore")(restore_command)


def main() -> None:
    """Console entry point."""
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    logging.getLogger("alembic").setLevel(logging.WARNING)
    app()
