"""The `truyenthanh` command line, with Vietnamese help for operators."""

import json
import logging
import signal
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict
from typing import Annotated, Any

import typer
import uvicorn
from sqlalchemy import Engine
from sqlmodel import Session

from api.demo import prepare_demo
from core.db import check_connection, create_db_engine
from core.errors import ConfigError
from core.migrations import current_revision, require_current, upgrade
from core.settings import Settings, load_settings, prepare_directories
from scheduler.jobs import build_scheduler

app = typer.Typer(
    name="truyenthanh",
    help="Truyền thanh: lập lịch phát thanh cho đài truyền thanh xã, huyện, tỉnh.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)

JsonOption = Annotated[bool, typer.Option("--json", help="In kết quả dạng JSON cho script.")]
HostOption = Annotated[str, typer.Option(help="Địa chỉ lắng nghe.")]
PortOption = Annotated[int, typer.Option(min=1, max=65535, help="Cổng lắng nghe.")]


@contextmanager
def _stops_cleanly() -> Iterator[None]:
    """Turn a configuration problem into one sentence on stderr and exit status 2."""
    try:
        yield
    except ConfigError as exc:
        typer.echo(f"Lỗi: {exc}", err=True)
        raise typer.Exit(2) from None


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
        "api.app:create_app",
        factory=True,
        host=host,
        port=port,
        workers=workers,
        proxy_headers=True,
        log_level="info",
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
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    scheduler.start()
    typer.echo(f"Bộ lập lịch đang chạy (múi giờ {settings.timezone}). Ctrl+C để dừng.")
    sys.stdout.flush()
    stop.wait()
    scheduler.shutdown()
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
        engine.dispose()
    url = f"http://{host}:{port}/"
    _print(
        {**asdict(summary), "url": url, "database": _where(engine)},
        as_json=as_json,
        lines=[
            f"Dữ liệu mẫu sẵn sàng trong {_where(engine)}:",
            f"  đài: {', '.join(summary.stations)}",
            f"  cụm loa: {summary.clusters}, nội dung: {summary.content_items}",
        ],
    )
    if not no_serve:
        _serve(settings, host=host, port=port, workers=1)


def main() -> None:
    """Console entry point."""
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    logging.getLogger("alembic").setLevel(logging.WARNING)
    app()
