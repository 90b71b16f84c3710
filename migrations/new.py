"""Write a new migration from the difference between the models and a scratch database.

Usage: python -m migrations.new "what changed"
"""

import subprocess
import sys
import tempfile
from importlib.resources import files
from pathlib import Path

from alembic import command

from core.db import create_db_engine
from core.migrations import alembic_config, upgrade
from core.settings import parse_database_url


def main() -> None:
    """Generate the next numbered revision and format it."""
    if len(sys.argv) != 2:
        raise SystemExit(__doc__)
    versions = Path(str(files("migrations"))) / "versions"
    numbers = [int(p.name[:4]) for p in versions.glob("[0-9][0-9][0-9][0-9]_*.py")]
    rev_id = f"{max(numbers, default=0) + 1:04d}"
    with tempfile.TemporaryDirectory() as scratch:
        engine = create_db_engine(parse_database_url(f"sqlite:///{scratch}/scratch.db"))
        upgrade(engine)
        command.revision(alembic_config(engine), sys.argv[1], autogenerate=True, rev_id=rev_id)
        engine.dispose()
    subprocess.run(
        [sys.executable, "-m", "ruff", "check", "--fix", "-q", str(versions)], check=False
    )
    subprocess.run([sys.executable, "-m", "ruff", "format", str(versions)], check=False)


if __name__ == "__main__":
    main()
