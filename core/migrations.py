"""Runs the Alembic migrations that live in the top-level `migrations` package."""

from functools import cache
from importlib.resources import files

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Engine

from core.errors import DatabaseBehindError


def alembic_config(engine: Engine) -> Config:
    """Build an Alembic config that migrates through the given engine."""
    config = Config()
    config.set_main_option("script_location", str(files("migrations")))
    config.attributes["engine"] = engine
    return config


@cache  # the files do not change while the process runs; health checks ask often
def head_revision() -> str:
    """Return the newest migration revision the code knows."""
    script = ScriptDirectory(str(files("migrations")))
    head = script.get_current_head()
    assert head is not None, "the migrations package has no revisions"
    return head


def current_revision(engine: Engine) -> str | None:
    """Return the revision the database is at, or None for an empty database."""
    with engine.connect() as connection:
        return MigrationContext.configure(connection).get_current_revision()


def upgrade(engine: Engine, *, revision: str = "head") -> str | None:
    """Bring the database to `revision` (head by default) and return where it ended."""
    command.upgrade(alembic_config(engine), revision)
    return current_revision(engine)


def downgrade(engine: Engine, *, revision: str) -> str | None:
    """Take the database back to `revision` and return where it ended."""
    command.downgrade(alembic_config(engine), revision)
    return current_revision(engine)


def require_current(engine: Engine) -> str:
    """Return the current revision, or raise DatabaseBehindError if it is not the head."""
    current = current_revision(engine)
    head = head_revision()
    if current != head:
        shown = current or "trống"
        raise DatabaseBehindError(
            f"Cơ sở dữ liệu đang ở phiên bản {shown}, mã nguồn cần {head}: "
            "hãy chạy `truyenthanh init` để tạo hoặc nâng cấp cơ sở dữ liệu."
        )
    return current
