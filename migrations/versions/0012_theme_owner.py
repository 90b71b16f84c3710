"""themes belong to the station that made them

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-07 10:20:59.799999
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0012"
down_revision: str | None = "0011"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# SQLite keeps the old unique constraint on `name` unnamed: batch mode names what it
# reflects by this convention so that it can be dropped. PostgreSQL named it itself.
NAMING = {"uq": "uq_%(table_name)s_%(column_0_name)s"}


def _name_unique() -> str:
    return "theme_name_key" if op.get_bind().dialect.name == "postgresql" else "uq_theme_name"


def upgrade() -> None:
    # Existing themes (the starting ones, and any added since) stay shared: no owner.
    # A name is now unique per owner instead of across the country.
    with op.batch_alter_table("theme", schema=None, naming_convention=NAMING) as batch_op:
        batch_op.add_column(sa.Column("station_id", sa.Integer(), nullable=True))
        batch_op.create_index(batch_op.f("ix_theme_station_id"), ["station_id"], unique=False)
        batch_op.drop_constraint(_name_unique(), type_="unique")
        batch_op.create_unique_constraint("uq_theme_station_id_name", ["station_id", "name"])
        batch_op.create_foreign_key(
            "fk_theme_station_id_station", "station", ["station_id"], ["id"], ondelete="RESTRICT"
        )


def downgrade() -> None:
    # Fails, rather than deleting or renaming anything, if two stations chose one name.
    with op.batch_alter_table("theme", schema=None) as batch_op:
        batch_op.drop_constraint("fk_theme_station_id_station", type_="foreignkey")
        batch_op.drop_constraint("uq_theme_station_id_name", type_="unique")
        batch_op.drop_index(batch_op.f("ix_theme_station_id"))
        batch_op.drop_column("station_id")
        batch_op.create_unique_constraint(_name_unique(), ["name"])
