"""`truyenthanh` commands for the records kept: the airing log's chain, backups, and how
long records are kept."""

from dataclasses import asdict
from datetime import date
from pathlib import Path
from typing import Annotated, Any

import typer
from sqlmodel import Session, func, select

from api.cli_support import (
    JsonOption,
    chosen_stations,
    cli_actor,
    database,
    open_database,
    print_result,
    stops_cleanly,
)
from audio.store import MediaStore
from core.backup import backup, restore
from core.clock import utcnow
from core.db import check_connection, create_db_engine
from core.migrations import head_revision
from core.settings import load_settings, prepare_directories
from scheduler.airings import verify_chain
from scheduler.models import AiringCheckpoint, Station
from scheduler.retention import get_policy, horizon, purge_expired, purge_horizons, set_policy
from scheduler.service import get_station

airings_app = typer.Typer(help="Nhật ký phát sóng.", no_args_is_help=True)
retention_app = typer.Typer(
    help="Thời hạn lưu trữ nhật ký phát sóng và bản ghi âm (theo tỉnh).", no_args_is_help=True
)


@airings_app.command("verify")
def airings_verify(
    stations: Annotated[
        list[str] | None, typer.Argument(help="Mã đài; bỏ trống để kiểm tra mọi đài.")
    ] = None,
    as_json: JsonOption = False,
) -> None:
    """Kiểm tra chuỗi băm của nhật ký phát sóng; báo bản ghi đầu tiên bị sửa hoặc xoá."""
    with stops_cleanly():
        settings, engine = open_database(migrate=False)
        with Session(engine) as session:
            chosen = chosen_stations(session, codes=stations, provinces_only=False)
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
    print_result({"stations": [asdict(check) for check in checks]}, as_json=as_json, lines=lines)
    if not all(check.ok for check in checks):
        raise typer.Exit(1)


def _megabytes(size: int) -> str:
    return f"{size / 1_000_000:.1f} MB".replace(".", ",")


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
    with stops_cleanly():
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
    print_result(asdict(result), as_json=as_json, lines=lines)


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
    with stops_cleanly():
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
    print_result(asdict(result) | {"database": where}, as_json=as_json, lines=lines)


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
    with stops_cleanly(), database() as session:
        chosen = chosen_stations(session, codes=stations, provinces_only=True)
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
    print_result({"stations": views}, as_json=as_json, lines=lines)


@retention_app.command("set")
def retention_set(
    station: Annotated[str, typer.Argument(help="Mã đài cấp tỉnh.")],
    days: Annotated[int, typer.Option(help="Số ngày lưu nhật ký phát sóng và bản ghi âm.")],
    as_json: JsonOption = False,
) -> None:
    """Đặt thời hạn lưu trữ cho cả tỉnh (mặc định 730 ngày, tức hai năm)."""
    with stops_cleanly(), database(write=True) as session:
        home = get_station(session, code=station)
        set_policy(session, station=home, days=days, by=cli_actor().name)
        view = _retention_view(session, home)
    print_result(
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
    with stops_cleanly():
        settings, engine = open_database(migrate=False)
        report = purge_expired(
            engine,
            key=settings.signing_key,
            store=MediaStore(settings.media_path),
            actor=cli_actor(),
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
    print_result(data, as_json=as_json, lines=lines)
    if any(station.refused for station in report.stations):
        raise typer.Exit(1)
