"""Alembic environment: migrates through the engine handed over by core.migrations."""

from alembic import context

from migrations.metadata import target_metadata

config = context.config


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
