from pathlib import Path

import pytest

from core.errors import ConfigError
from core.settings import load_settings, prepare_directories


def test_defaults_put_sqlite_and_media_in_the_data_directory(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.chdir(tmp_path)
    settings = load_settings()
    assert settings.database.get_backend_name() == "sqlite"
    assert settings.database.database == str(tmp_path / "data" / "truyenthanh.db")
    assert settings.media_path == Path("data") / "media"
    assert settings.timezone == "Asia/Ho_Chi_Minh"
    assert settings.env == "development"


def test_environment_variables_with_prefix_are_read(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("TRUYENTHANH_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("TRUYENTHANH_MEDIA_DIR", str(tmp_path / "audio"))
    monkeypatch.setenv("TRUYENTHANH_DATABASE_URL", "postgresql://u:p@db:5432/tt")
    monkeypatch.setenv("TRUYENTHANH_PUBLIC_BASE_URL", "https://loa.example.vn/")
    settings = load_settings()
    assert settings.database.drivername == "postgresql+psycopg"
    assert settings.database.host == "db"
    assert settings.media_path == tmp_path / "audio"
    assert settings.public_base_url == "https://loa.example.vn"


@pytest.mark.parametrize(
    ("variable", "value", "expected"),
    [
        ("TRUYENTHANH_DATABASE_URL", "not a url at all", "không đúng dạng"),
        ("TRUYENTHANH_DATABASE_URL", "mysql://u:p@h/db", "chỉ hỗ trợ sqlite, postgresql"),
        ("TRUYENTHANH_DATABASE_URL", "sqlite://", "phải trỏ tới một tệp"),
        ("TRUYENTHANH_TIMEZONE", "Asia/Hanoi-City", "TRUYENTHANH_TIMEZONE"),
        ("TRUYENTHANH_ENV", "staging", "TRUYENTHANH_ENV"),
        ("TRUYENTHANH_PUBLIC_BASE_URL", "loa.example.vn", "http://"),
    ],
)
def test_bad_settings_are_one_clear_sentence(
    monkeypatch: pytest.MonkeyPatch, variable: str, value: str, expected: str
) -> None:
    monkeypatch.setenv(variable, value)
    with pytest.raises(ConfigError) as caught:
        load_settings()
    message = str(caught.value)
    assert expected in message
    assert "\n" not in message
    assert message.endswith(".")


def test_production_requires_a_long_secret_key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TRUYENTHANH_ENV", "production")
    with pytest.raises(ConfigError, match="TRUYENTHANH_SECRET_KEY"):
        load_settings()
    monkeypatch.setenv("TRUYENTHANH_SECRET_KEY", "short")
    with pytest.raises(ConfigError, match="32"):
        load_settings()
    monkeypatch.setenv("TRUYENTHANH_SECRET_KEY", "x" * 40)
    assert load_settings().signing_key == "x" * 40


def test_development_gets_a_random_key_kept_in_the_data_directory(tmp_path: Path) -> None:
    first = load_settings(data_dir=tmp_path / "a")
    key = first.signing_key
    assert len(key) >= 32
    assert load_settings(data_dir=tmp_path / "a").signing_key == key, "stable across restarts"
    assert (tmp_path / "a" / "secret.key").stat().st_mode & 0o777 == 0o600
    assert load_settings(data_dir=tmp_path / "b").signing_key != key


def test_unwritable_data_directory_is_reported(tmp_path: Path) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("not a directory")
    settings = load_settings(data_dir=blocker / "data")
    with pytest.raises(ConfigError, match="Không ghi được vào thư mục"):
        prepare_directories(settings)


def test_prepare_directories_creates_data_and_media(tmp_path: Path) -> None:
    settings = load_settings(data_dir=tmp_path / "new")
    prepare_directories(settings)
    assert (tmp_path / "new" / "media").is_dir()
    assert list((tmp_path / "new").rglob(".write-test")) == []
