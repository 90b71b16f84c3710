"""The deployment files say what the README and CI promise (no Docker engine runs here)."""

import re
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent


def _compose() -> dict:
    return yaml.safe_load((ROOT / "docker-compose.yml").read_text())


def test_compose_has_database_api_and_one_scheduler() -> None:
    services = _compose()["services"]
    assert set(services) == {"db", "api", "scheduler"}
    assert "pg_isready" in " ".join(services["db"]["healthcheck"]["test"])
    assert "pgdata:/var/lib/postgresql/data" in services["db"]["volumes"]
    assert "/api/v1/health" in " ".join(services["api"]["healthcheck"]["test"])
    assert services["scheduler"]["deploy"]["replicas"] == 1
    assert services["scheduler"]["command"] == ["scheduler"]


def test_api_runs_migrations_first_and_several_workers() -> None:
    entry = " ".join(_compose()["services"]["api"]["entrypoint"])
    assert entry.index("truyenthanh init") < entry.index("truyenthanh serve")
    workers = re.search(r"--workers (\d+)", entry)
    assert workers and int(workers.group(1)) > 1


def test_api_and_scheduler_share_image_database_and_media() -> None:
    compose = _compose()
    api, scheduler = compose["services"]["api"], compose["services"]["scheduler"]
    assert api["image"] == scheduler["image"]
    assert api["environment"] == scheduler["environment"]
    assert "@db:5432/" in api["environment"]["TRUYENTHANH_DATABASE_URL"]
    assert api["environment"]["TRUYENTHANH_ENV"] == "production"
    assert api["volumes"] == scheduler["volumes"] == ["media:/var/lib/truyenthanh/media"]
    assert set(compose["volumes"]) == {"pgdata", "media"}
    for name in ("api", "scheduler"):
        needs = compose["services"][name]["depends_on"]
        assert needs["db"]["condition"] == "service_healthy"


def test_dockerfile_installs_every_package() -> None:
    dockerfile = (ROOT / "Dockerfile").read_text()
    for package in ("core", "content", "audio", "scheduler", "api", "migrations"):
        assert f"COPY {package} ./{package}" in dockerfile


def test_ci_runs_the_readme_test_command_verbatim() -> None:
    readme = (ROOT / "README.md").read_text()
    ci_lines = (ROOT / ".ci" / "run").read_text().splitlines()
    command = ci_lines[ci_lines.index("# The README's test command, verbatim:") + 1]
    assert command in readme
    assert "truyenthanh demo" in readme
