import pytest
from alembic import command
from sqlalchemy import inspect

from core.db import create_db_engine
from core.errors import DatabaseBehindError
from core.migrations import (
    alembic_config,
    current_revision,
    downgrade,
    head_revision,
    require_current,
    upgrade,
)
from core.settings import parse_database_url


@pytest.fixture
def empty_engine(empty_database_url):
    engine = create_db_engine(parse_database_url(empty_database_url))
    yield engine
    engine.dispose()


def test_upgrade_from_empty_reaches_head_and_is_idempotent(empty_engine) -> None:
    assert current_revision(empty_engine) is None
    assert upgrade(empty_engine) == head_revision()
    assert upgrade(empty_engine) == head_revision()
    assert {"station", "cluster", "content_item"} <= set(inspect(empty_engine).get_table_names())


def test_migrations_match_the_models(engine) -> None:
    """A model change without its migration fails here, through Alembic's own env.py."""
    command.check(alembic_config(engine))


def test_every_migration_downgrades_and_upgrades_again(empty_engine) -> None:
    upgrade(empty_engine)
    assert downgrade(empty_engine, revision="base") is None
    assert inspect(empty_engine).get_table_names() in ([], ["alembic_version"])
    assert upgrade(empty_engine) == head_revision()


def test_require_current_names_the_command_to_run(empty_engine) -> None:
    with pytest.raises(DatabaseBehindError, match="truyenthanh init"):
        require_current(empty_engine)
    upgrade(empty_engine)
    assert require_current(empty_engine) == head_revision()
