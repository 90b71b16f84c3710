"""starting themes of administrative-reform communication

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-22
"""

from collections.abc import Sequence
from datetime import UTC, datetime

import sqlalchemy as sa
from alembic import op

import core.types

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Frozen here on purpose: planners edit themes afterwards, and this list must not
# change under a database that has already been migrated.
THEMES = [
    "Cải cách thể chế",
    "Cải cách thủ tục hành chính",
    "Bộ phận một cửa, một cửa liên thông",
    "Dịch vụ công trực tuyến mức độ 3, 4",
    "Dịch vụ bưu chính công ích",
    "Cải cách tổ chức bộ máy",
    "Xây dựng đội ngũ cán bộ, công chức, viên chức",
    "Cải cách tài chính công",
    "Chính quyền điện tử, chính quyền số",
    "Chỉ số PAR INDEX, PCI, PAPI, SIPAS",
    "Dân chủ ở cơ sở",
]

theme = sa.table(
    "theme",
    sa.column("name", sa.String),
    sa.column("created_at", core.types.UTCDateTime()),
)


def upgrade() -> None:
    now = datetime.now(UTC)
    op.bulk_insert(theme, [{"name": name, "created_at": now} for name in THEMES])


def downgrade() -> None:
    op.execute(theme.delete().where(theme.c.name.in_(THEMES)))
