"""Alembic environment: migrates through the engine handed over by core.migrations."""

from typing import Any

from alembic import context

from core.types import StrEnumType
from migrations.metadata import target_metadata

config = context.config


def include_object(obj: Any, name: str | None, type_: str, *_args: Any) -> bool:
    """Leave APScheduler's job table to APScheduler (its layout is fixed in 0007)."""
    table = obj.table.name if type_ in ("column", "index") else name
    return table != "apscheduler_jobs"


def render_item(type_: str, obj: Any, _autogen_context: Any) -> str | bool:
    """Write enum columns as the plain strings they are stored as."""
    if type_ == "type" and isinstance(obj, StrEnumType):
        return f"sa.String(length={obj.impl.length})"
    return False


def run_migrations_online() -> None:
    """Run migrations on the engine given by core.migrations.alembic_config."""
    engine = config.attributes["engine"]
    with engine.connect() as connection:
        sqlite = connection.dialect.name == "sqlite"
        if sqlite:
            # Batch mode rebuilds tables; with foreign keys on, dropping the old copy
            # would cascade. The pragma only works outside a transaction.
            connection.connection.driver_connection.execute("PRAGMA foreign_keys=OFF")
        context.configure(
            connection=connection,
            target_metadata=target_metadata,
            render_as_batch=True,
            transactional_ddl=True,
            compare_type=True,
            render_item=render_item,
            include_object=include_object,
        )
        with context.begin_transaction():
            context.run_migrations()
            if sqlite:
                broken = connection.exec_driver_sql("PRAGMA foreign_key_check").fetchall()
                if broken:
                    raise RuntimeError(f"migration broke foreign keys: {broken[:5]}")
        connection.commit()
        if sqlite:
            connection.connection.driver_connection.execute("PRAGMA foreign_keys=ON")


if context.is_offline_mode():
    raise SystemExit("Offline SQL generation is not supported; run `truyenthanh init`.")
run_migrations_online()
