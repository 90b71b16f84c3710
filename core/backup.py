"""Backups: the database and the media store in one verifiable .tar, and their restore.

SQLite is copied online with sqlite3's backup API: one step, under one read
transaction, so the copy is a consistent snapshot while the server keeps writing.
PostgreSQL is dumped with pg_dump (custom format, its own consistent snapshot) and
restored with pg_restore in one transaction. The media store is copied after the
database: a file enters the store before its row is committed, so every audio file
the snapshot names is already there (one missing since is listed in the manifest).

Every member's SHA-256 and size are listed in manifest.json, the archive's last
member, and a restore checks all of them before it touches anything. The checksums
catch a damaged or truncated archive, not a deliberately rewritten one: keep
backups where only operators can write.

This module reads table names and the media store's file layout only; it knows
nothing else of the domain.
"""

import hashlib
import io
import json
import os
import re
import shutil
import sqlite3
import subprocess
import tarfile
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from sqlalchemy import Engine, inspect, text
from sqlalchemy.engine import URL

from core.clock import utcnow
from core.db import check_connection, create_db_engine
from core.errors import ConfigError
from core.settings import Settings

FORMAT = "truyenthanh-backup"
VERSION = 1
MANIFEST = "manifest.json"
SQLITE_MEMBER = "database.sqlite"
PG_MEMBER = "database.pgdump"
SECRET_MEMBER = "secret.key"
MEDIA_MEMBER = re.compile(r"^media/([0-9a-f]{2})/(\1[0-9a-f]{62})\.([A-Za-z0-9]{1,8})$")
# A database holding any of these rows is not overwritten without --force.
DATA_TABLES = ("station", "user", "plan", "content_item", "audio_asset", "airing_record")
CHUNK = 1 << 20


class BackupError(ConfigError):
    """A backup or restore that cannot go ahead, said in one sentence."""


@dataclass
class BackupResult:
    """What a backup wrote."""

    path: str
    backend: str
    revision: str | None
    size: int
    database_size: int
    media_files: int
    media_bytes: int
    secret_key: bool
    missing_media: list[str] = field(default_factory=list)
    damaged_media: list[str] = field(default_factory=list)


@dataclass
class RestoreResult:
    """What a restore put back."""

    backend: str
    revision: str | None
    created_at: str
    media_files: int
    secret_key: bool
    skipped_media: list[str] = field(default_factory=list)


class _Hashing(io.RawIOBase):
    """Reads a file while hashing what passed, so each byte is read once."""

    def __init__(self, handle: IO[bytes]) -> None:
        self.handle = handle
        self.digest = hashlib.sha256()

    def read(self, size: int = -1) -> bytes:
        data = self.handle.read(size)
        self.digest.update(data)
        return data


def _add(tar: tarfile.TarFile, path: Path, name: str, *, mode: int = 0o644) -> dict[str, Any]:
    info = tar.gettarinfo(str(path), arcname=name)
    info.mode, info.uid, info.gid, info.uname, info.gname = mode, 0, 0, "", ""
    with path.open("rb") as handle:
        reader = _Hashing(handle)
        tar.addfile(info, reader)
    return {"sha256": reader.digest.hexdigest(), "size": info.size}


def _backend(url: URL) -> str:
    return "postgresql" if url.get_backend_name() == "postgresql" else "sqlite"


def _sqlite_snapshot(url: URL, scratch: Path) -> tuple[Path, str | None, list[tuple[str, str]]]:
    source = Path(str(url.database))
    if not source.exists():
        raise BackupError(f"Chưa có cơ sở dữ liệu {source}; hãy chạy `truyenthanh init`.")
    copy = scratch / SQLITE_MEMBER
    src = sqlite3.connect(source, timeout=30)
    dst = sqlite3.connect(copy)
    try:
        src.backup(dst)  # all pages in one step: one read snapshot, writers carry on
        # The copy stands alone: no -wal file beside it to lose.
        dst.execute("PRAGMA journal_mode=DELETE")
        check = dst.execute("PRAGMA quick_check").fetchone()[0]
        if check != "ok":
            raise BackupError(f"Bản sao cơ sở dữ liệu không toàn vẹn: {check}.")
        tables = {row[0] for row in dst.execute("SELECT name FROM sqlite_master")}
        revision = (
            dst.execute("SELECT version_num FROM alembic_version").fetchone()[0]
            if "alembic_version" in tables
            else None
        )
        assets = (
            dst.execute("SELECT sha256, format FROM audio_asset").fetchall()
            if "audio_asset" in tables
            else []
        )
    finally:
        dst.close()
        src.close()
    return copy, revision, assets


def _libpq(url: URL) -> tuple[str, dict[str, str]]:
    # The password goes through the environment, never the command line others can read.
    env = dict(os.environ)
    if url.password:
        env["PGPASSWORD"] = str(url.password)
    plain = url.set(drivername="postgresql", password=None)
    return plain.render_as_string(hide_password=False), env


def pg_dump_help(settings: Settings) -> str:
    """How to back up a PostgreSQL database by hand, for where pg_dump is not installed."""
    where = settings.database.set(drivername="postgresql", password=None)
    return (
        "Không tìm thấy pg_dump: hãy cài gói postgresql-client cùng phiên bản với máy chủ "
        "rồi chạy lại, hoặc tự sao lưu: "
        f"`pg_dump --format=custom --no-owner --file=truyenthanh.pgdump "
        f"'{where.render_as_string(hide_password=False)}'` (mật khẩu trong PGPASSWORD) "
        f"và sao chép thư mục âm thanh {settings.media_path}"
    )


def _tool(name: str, settings: Settings) -> str:
    found = shutil.which(name)
    if found is None:
        raise BackupError(pg_dump_help(settings))
    return found


def _run(command: list[str], *, env: dict[str, str], what: str) -> None:
    done = subprocess.run(command, env=env, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        reason = (done.stderr.strip().splitlines() or ["không rõ lỗi"])[-1]
        raise BackupError(f"{what} không thành công: {reason}")


def _pg_snapshot(
    settings: Settings, scratch: Path
) -> tuple[Path, str | None, list[tuple[str, str]]]:
    url = settings.database
    copy = scratch / PG_MEMBER
    plain, env = _libpq(url)
    _run(
        [
            _tool("pg_dump", settings),
            "--format=custom",
            "--no-owner",
            "--no-privileges",
            f"--file={copy}",
            f"--dbname={plain}",
        ],
        env=env,
        what="pg_dump",
    )
    engine = create_db_engine(url)
    try:
        tables = set(inspect(engine).get_table_names())
        with engine.connect() as connection:
            revision = (
                connection.execute(text("SELECT version_num FROM alembic_version")).scalar()
                if "alembic_version" in tables
                else None
            )
            assets = (
                [
                    tuple(row)
                    for row in connection.execute(text("SELECT sha256, format FROM audio_asset"))
                ]
                if "audio_asset" in tables
                else []
            )
    finally:
        engine.dispose()
    return copy, revision, assets


def backup(settings: Settings, *, output: Path | None = None) -> BackupResult:
    """Write the database and the media store to one .tar with a manifest of checksums."""
    now = utcnow()
    target = output or settings.data_dir / "backups" / f"truyenthanh-{now:%Y%m%d-%H%M%S}.tar"
    if target.exists():
        raise BackupError(f"Tệp {target} đã có; hãy chọn tên khác.")
    target.parent.mkdir(parents=True, exist_ok=True)
    backend = _backend(settings.database)
    partial = target.with_name(f".{target.name}.{os.getpid()}.part")
    files: dict[str, dict[str, Any]] = {}
    damaged: list[str] = []
    secret = settings.secret_key is None and (settings.data_dir / SECRET_MEMBER).is_file()
    try:
        with tempfile.TemporaryDirectory(dir=target.parent, prefix=".backup-") as scratch:
            if backend == "sqlite":
                database, revision, assets = _sqlite_snapshot(settings.database, Path(scratch))
            else:
                database, revision, assets = _pg_snapshot(settings, Path(scratch))
            with tarfile.open(partial, "w", format=tarfile.PAX_FORMAT) as tar:
                files[database.name] = _add(tar, database, database.name)
                root = settings.media_path
                for path in sorted(root.glob("[0-9a-f][0-9a-f]/*")):
                    name = f"media/{path.parent.name}/{path.name}"
                    match = MEDIA_MEMBER.match(name)
                    if match is None or not path.is_file() or path.is_symlink():
                        continue  # temporary files and strays are not the store's
                    files[name] = _add(tar, path, name)
                    if files[name]["sha256"] != match.group(2):
                        damaged.append(name)
                if secret:
                    files[SECRET_MEMBER] = _add(
                        tar, settings.data_dir / SECRET_MEMBER, SECRET_MEMBER, mode=0o600
                    )
                missing = sorted(
                    f"{sha}.{ext}"
                    for sha, ext in assets
                    if f"media/{sha[:2]}/{sha}.{ext}" not in files
                )
                manifest = {
                    "format": FORMAT,
                    "version": VERSION,
                    "created_at": now.isoformat(),
                    "backend": backend,
                    "revision": revision,
                    "database": database.name,
                    "secret_key": secret,
                    "files": files,
                    "damaged_media": damaged,
                    "missing_media": missing,
                }
                data = json.dumps(manifest, ensure_ascii=False, indent=1).encode()
                info = tarfile.TarInfo(MANIFEST)
                info.size, info.mtime, info.mode = len(data), int(now.timestamp()), 0o644
                tar.addfile(info, io.BytesIO(data))
        with partial.open("rb") as handle:
            os.fsync(handle.fileno())
        os.replace(partial, target)
    finally:
        partial.unlink(missing_ok=True)
    media = [v for k, v in files.items() if k.startswith("media/")]
    return BackupResult(
        path=str(target),
        backend=backend,
        revision=revision,
        size=target.stat().st_size,
        database_size=files[database.name]["size"],
        media_files=len(media),
        media_bytes=sum(v["size"] for v in media),
        secret_key=secret,
        missing_media=missing,
        damaged_media=damaged,
    )


def _allowed(name: str) -> bool:
    return name in (SQLITE_MEMBER, PG_MEMBER, SECRET_MEMBER) or MEDIA_MEMBER.match(name) is not None


def verify_archive(archive: Path) -> dict[str, Any]:
    """Check every member of a backup against its manifest; return the manifest."""
    try:
        with tarfile.open(archive, "r:") as tar:
            members = tar.getmembers()
            manifest_member = next((m for m in members if m.name == MANIFEST), None)
            if manifest_member is None:
                raise BackupError(f"{archive} không có {MANIFEST}: không phải bản sao lưu.")
            handle = tar.extractfile(manifest_member)
            assert handle is not None
            try:
                manifest = json.loads(handle.read())
            except ValueError:
                raise BackupError(f"{MANIFEST} trong {archive} bị hỏng.") from None
            if manifest.get("format") != FORMAT or manifest.get("version") != VERSION:
                raise BackupError(
                    f"{archive} không phải bản sao lưu Truyền thanh phiên bản {VERSION}."
                )
            expected: dict[str, dict[str, Any]] = manifest["files"]
            seen: set[str] = set()
            for member in members:
                if member.name == MANIFEST:
                    continue
                name = member.name
                if (
                    name not in expected
                    or name in seen
                    or not member.isfile()
                    or not _allowed(name)
                ):
                    raise BackupError(f"Bản sao lưu có thành phần lạ hoặc lặp lại: {name}.")
                source = tar.extractfile(member)
                assert source is not None
                digest, size = hashlib.sha256(), 0
                while chunk := source.read(CHUNK):
                    digest.update(chunk)
                    size += len(chunk)
                if digest.hexdigest() != expected[name]["sha256"] or size != expected[name]["size"]:
                    raise BackupError(
                        f"Bản sao lưu bị hỏng: {name} không khớp mã SHA-256 trong {MANIFEST}."
                    )
                seen.add(name)
            absent = sorted(set(expected) - seen)
            if absent:
                raise BackupError(f"Bản sao lưu thiếu {absent[0]} (và {len(absent) - 1} tệp khác).")
            if manifest.get("database") not in seen:
                raise BackupError("Bản sao lưu không có cơ sở dữ liệu.")
    except (tarfile.TarError, EOFError, OSError, KeyError, TypeError) as exc:
        raise BackupError(
            f"Không đọc được bản sao lưu {archive} (hỏng hoặc bị cắt cụt): {exc}."
        ) from None
    return manifest


def has_data(engine: Engine) -> bool:
    """Tell whether a database holds anything people made (stations, users, content, logs)."""
    tables = set(inspect(engine).get_table_names())
    with engine.connect() as connection:
        for table in DATA_TABLES:
            if (
                table in tables
                and connection.execute(text(f'SELECT 1 FROM "{table}" LIMIT 1')).first()
            ):
                return True
    return False


def _write(source: IO[bytes], target: Path, *, mode: int = 0o644) -> None:
    # Written beside the target and renamed: a reader never sees half a file.
    target.parent.mkdir(parents=True, exist_ok=True)
    temp = target.with_name(f".{target.name}.{os.getpid()}.restore")
    try:
        fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
        with os.fdopen(fd, "wb") as handle:
            shutil.copyfileobj(source, handle, CHUNK)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temp, target)
    finally:
        temp.unlink(missing_ok=True)


def restore(settings: Settings, *, archive: Path, force: bool = False) -> RestoreResult:
    """Put a backup back into the configured database and media store, checked first."""
    manifest = verify_archive(archive)
    url = settings.database
    backend = _backend(url)
    if manifest["backend"] != backend:
        raise BackupError(
            f"Bản sao lưu là của {manifest['backend']}, không khôi phục được vào {backend}."
        )
    where = url.render_as_string(hide_password=True)
    engine = (
        None
        if backend == "sqlite" and not Path(str(url.database)).exists()
        else create_db_engine(url)
    )
    try:
        if engine is not None:
            check_connection(engine)
        if engine is not None and has_data(engine) and not force:
            raise BackupError(
                f"Cơ sở dữ liệu {where} đã có dữ liệu; thêm --force để ghi đè "
                "(mọi dữ liệu hiện có sẽ mất)."
            )
        secret_path = settings.data_dir / SECRET_MEMBER
        restore_secret = manifest.get("secret_key") and settings.secret_key is None
        if restore_secret and secret_path.exists() and not force:
            with tarfile.open(archive, "r:") as tar:
                theirs = tar.extractfile(SECRET_MEMBER).read()  # type: ignore[union-attr]
            if secret_path.read_bytes() != theirs:
                raise BackupError(
                    f"Thư mục dữ liệu đã có khoá bí mật khác ({secret_path}); "
                    "thêm --force để thay bằng khoá trong bản sao lưu."
                )
        settings.data_dir.mkdir(parents=True, exist_ok=True)
        skipped = list(manifest.get("damaged_media", []))
        media = 0
        with tarfile.open(archive, "r:") as tar:
            # Media first and the database last: until the database is in place, a
            # failed restore leaves the old one as it was.
            for member in tar.getmembers():
                match = MEDIA_MEMBER.match(member.name)
                if match is None or member.name in skipped:
                    continue
                source = tar.extractfile(member)
                assert source is not None
                _write(
                    source,
                    settings.media_path / match.group(1) / f"{match.group(2)}.{match.group(3)}",
                )
                media += 1
            if restore_secret:
                source = tar.extractfile(SECRET_MEMBER)
                assert source is not None
                _write(source, secret_path, mode=0o600)
            source = tar.extractfile(manifest["database"])
            assert source is not None
            if backend == "sqlite":
                if engine is not None:
                    engine.dispose()
                _restore_sqlite(source, Path(str(url.database)))
            else:
                assert engine is not None
                _restore_postgresql(settings, engine, source)
    finally:
        if engine is not None:
            engine.dispose()
    return RestoreResult(
        backend=backend,
        revision=manifest.get("revision"),
        created_at=manifest["created_at"],
        media_files=media,
        secret_key=bool(restore_secret),
        skipped_media=skipped,
    )


def _restore_sqlite(source: IO[bytes], target: Path) -> None:
    # A -wal file left beside the new database would be replayed into it.
    temp = target.with_name(f".{target.name}.{os.getpid()}.incoming")
    try:
        _write(source, temp)
        for suffix in ("-wal", "-shm"):
            Path(f"{target}{suffix}").unlink(missing_ok=True)
        os.replace(temp, target)
    finally:
        temp.unlink(missing_ok=True)


def _restore_postgresql(settings: Settings, engine: Engine, source: IO[bytes]) -> None:
    pg_restore = _tool("pg_restore", settings)
    with tempfile.TemporaryDirectory(dir=settings.data_dir, prefix=".restore-") as scratch:
        dump = Path(scratch) / PG_MEMBER
        _write(source, dump)
        if inspect(engine).get_table_names():
            # Refused above unless forced or holding no data: start from an empty schema.
            with engine.begin() as connection:
                connection.execute(text("DROP SCHEMA public CASCADE"))
                connection.execute(text("CREATE SCHEMA public"))
        engine.dispose()
        plain, env = _libpq(settings.database)
        _run(
            [
                pg_restore,
                "--no-owner",
                "--no-privileges",
                "--exit-on-error",
                "--single-transaction",
                f"--dbname={plain}",
                str(dump),
            ],
            env=env,
            what="pg_restore",
        )
