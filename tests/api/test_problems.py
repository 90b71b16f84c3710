from fastapi import APIRouter, Query

from core.errors import ConflictError

PROBLEM = "application/problem+json"


def test_unknown_route_is_a_problem_report(client) -> None:
    response = client.get("/api/v1/no-such-thing")
    assert response.status_code == 404
    assert response.headers["content-type"] == PROBLEM
    body = response.json()
    assert body["status"] == 404
    assert body["title"] == "Không tìm thấy"
    assert body["type"] == "about:blank"


def test_wrong_method_is_a_problem_report(client) -> None:
    response = client.post("/api/v1/health")
    assert response.status_code == 405
    assert response.headers["content-type"] == PROBLEM


def test_validation_and_domain_errors_list_what_is_wrong(client) -> None:
    router = APIRouter()

    @router.get("/probe")
    def probe(count: int = Query(ge=1)) -> dict[str, int]:
        if count == 7:
            raise ConflictError("Trùng giờ phát.", errors=[{"date": "2026-11-23", "booking_id": 3}])
        return {"count": count}

    client.app.include_router(router)

    invalid = client.get("/probe", params={"count": "zero"})
    assert invalid.status_code == 422
    assert invalid.headers["content-type"] == PROBLEM
    assert invalid.json()["errors"][0]["loc"] == ["query", "count"]

    conflict = client.get("/probe", params={"count": 7})
    assert conflict.status_code == 409
    assert conflict.headers["content-type"] == PROBLEM
    assert conflict.json()["detail"] == "Trùng giờ phát."
    assert conflict.json()["errors"] == [{"date": "2026-11-23", "booking_id": 3}]
