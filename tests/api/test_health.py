from fastapi.testclient import TestClient

from api.app import create_app
from core.errors import DatabaseBehindError
from core.migrations import head_revision


def test_health_reports_database_schema_and_version(client, backend) -> None:
    response = client.get("/api/v1/health")
    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "ok"
    assert body["database"] == "ok"
    assert body["backend"] == backend
    assert body["migration"] == {
        "current": head_revision(),
        "head": head_revision(),
        "up_to_date": True,
    }
    assert body["version"]


def test_app_refuses_to_start_on_a_database_that_is_behind(settings, empty_database_url) -> None:
    behind = settings.model_copy(update={"database_url": empty_database_url})
    app = create_app(behind)
    try:
        with TestClient(app):
            raise AssertionError("the app started on an empty database")
    except DatabaseBehindError as exc:
        assert "truyenthanh init" in str(exc)


def test_openapi_and_offline_docs_are_served(client) -> None:
    schema = client.get("/openapi.json").json()
    assert "/api/v1/health" in schema["paths"]
    docs = client.get("/docs")
    assert docs.status_code == 200
    assert "/static/swagger/swagger-ui-bundle.js" in docs.text
    assert "cdn" not in docs.text.lower()
    script = client.get("/static/swagger/swagger-ui-bundle.js")
    assert script.status_code == 200
    assert len(script.content) > 100_000
