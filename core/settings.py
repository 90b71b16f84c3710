"""The one settings object, read from `TRUYENTHANH_*` environment variables."""

import os
import secrets
from functools import cache
from pathlib import Path
from typing import Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import Field, SecretStr, ValidationError, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import ArgumentError

from core.errors import ConfigError

SUPPORTED_BACKENDS = ("sqlite", "postgresql")


class Settings(BaseSettings):
    """Everything the processes need to know about where they run."""

    model_config = SettingsConfigDict(env_prefix="TRUYENTHANH_", extra="ignore")

    env: Literal["development", "production"] = Field(
        "development", description="`production` requires a secret key"
    )
    data_dir: Path = Field(Path("data"), description="SQLite file and media live here")
    database_url: str = Field(
        "", description="SQLAlchemy URL; empty means SQLite in the data directory"
    )
    media_dir: Path | None = Field(None, description="audio store; default <data_dir>/media")
    timezone: str = Field("Asia/Ho_Chi_Minh", description="default zone for new stations")
    public_base_url: str = Field(
        "http://127.0.0.1:8000",
        description="links made without a request (jobs, CLI) point here; answers use their own",
    )
    trust_proxy: bool = Field(
        False, description="links follow X-Forwarded-Proto and X-Forwarded-Host (own proxy only)"
    )
    secret_key: SecretStr | None = Field(None, description="signs sessions and tokens")
    access_token_minutes: int = Field(480, ge=1, le=43_200, description="API token lifetime")
    session_hours: int = Field(12, ge=1, le=720, description="web login lifetime")
    login_max_failures: int = Field(5, ge=1, description="failed logins before a pause")
    login_window_minutes: int = Field(15, ge=1, description="how long failures count")
    max_upload_mb: int = Field(200, ge=1, le=4096, description="largest accepted upload")
    max_body_kb: int = Field(
        1024, ge=1, le=65_536, description="largest request body other than an upload"
    )
    body_timeout_s: int = Field(
        60, ge=1, le=3600, description="longest pause in a request body before a 408"
    )

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ValueError(f"múi giờ không tồn tại: {value!r}") from exc
        return value

    @field_validator("public_base_url")
    @classmethod
    def _absolute_url(cls, value: str) -> str:
        if not value.startswith(("http://", "https://")):
            raise ValueError(f"cần một địa chỉ http:// hoặc https://, nhận được {value!r}")
        return value.rstrip("/")

    @model_validator(mode="after")
    def _secret_in_production(self) -> "Settings":
        key = self.secret_key.get_secret_value() if self.secret_key else ""
        if self.env == "production" and len(key) < 32:
            raise ValueError("chế độ production cần TRUYENTHANH_SECRET_KEY dài ít nhất 32 ký tự")
        return self

    @property
    def database(self) -> URL:
        """The database URL, defaulting to SQLite in the data directory."""
        raw = self.database_url or f"sqlite:///{(self.data_dir / 'truyenthanh.db').resolve()}"
        return parse_database_url(raw)

    @property
    def media_path(self) -> Path:
        """Where the content-addressed audio store lives."""
        return self.media_dir or self.data_dir / "media"

    @property
    def secure_cookies(self) -> bool:
        """Cookies are sent over HTTPS only when the public address is HTTPS."""
        return self.public_base_url.startswith("https://")

    @property
    def signing_key(self) -> str:
        """The secret key; without one (development) a random key kept in the data directory."""
        if self.secret_key:
            return self.secret_key.get_secret_value()
        return _local_key((self.data_dir / "secret.key").resolve())


def parse_database_url(raw: str) -> URL:
    """Parse and normalise a database URL, or raise ConfigError saying what is wrong."""
    try:
        url = make_url(raw)
    except ArgumentError as exc:
        raise ConfigError(
            f"TRUYENTHANH_DATABASE_URL không đúng dạng URL cơ sở dữ liệu: {raw!r}."
        ) from exc
    backend = url.get_backend_name()
    if backend in ("postgres", "postgresql"):
        return url.set(drivername="postgresql+psycopg")
    if backend == "sqlite":
        if not url.database or url.database == ":memory:":
            raise ConfigError("TRUYENTHANH_DATABASE_URL cho SQLite phải trỏ tới một tệp.")
        return url
    raise ConfigError(
        f"TRUYENTHANH_DATABASE_URL dùng hệ quản trị {backend!r}; "
        f"chỉ hỗ trợ {', '.join(SUPPORTED_BACKENDS)}."
    )


def load_settings(**overrides: object) -> Settings:
    """Read settings from the environment, turning any mistake into one ConfigError."""
    try:
        settings = Settings(**overrides)  # type: ignore[arg-type]
    except ValidationError as exc:
        first = exc.errors()[0]
        name = "TRUYENTHANH_" + "_".join(str(p) for p in first["loc"]).upper()
        message = str(first["msg"]).removeprefix("Value error, ")
        if name == "TRUYENTHANH_":
            raise ConfigError(f"Cấu hình không hợp lệ: {message}.") from None
        raise ConfigError(f"Cấu hình {name} không hợp lệ: {message}.") from None
    settings.database  # noqa: B018 - validates the URL early, with a clear message
    return settings


def prepare_directories(settings: Settings) -> None:
    """Create the data and media directories, or raise ConfigError if they cannot be written."""
    for path in (settings.data_dir, settings.media_path):
        try:
            path.mkdir(parents=True, exist_ok=True)
            probe = path / ".write-test"
            probe.write_bytes(b"")
            probe.unlink()
        except OSError as exc:
            raise ConfigError(
                f"Không ghi được vào thư mục {path}: {exc.strerror or exc}."
            ) from None


@cache
def _local_key(path: Path) -> str:
    # A fixed development key would let anyone forge an admin token on a demo server
    # reachable from the network; a random one per installation cannot be guessed.
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return path.read_text(encoding="ascii").strip()
    with os.fdopen(fd, "w", encoding="ascii") as handle:
        handle.write(secrets.token_urlsafe(48))
    return path.read_text(encoding="ascii").strip()
