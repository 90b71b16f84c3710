"""RFC 9457 problem reports for every error the API answers with."""

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field
from sqlalchemy.exc import DataError, OperationalError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.routing import Match

from audio.store import FULL_DETAIL, FULL_ERRNOS, StoreFullError
from core.errors import ProblemError

PROBLEM_MEDIA_TYPE = "application/problem+json"
RETRY_AFTER_S = 5  # seconds a client waits before asking again while the database is away
# PostgreSQL's class 40, "transaction rollback": a deadlock with, or a serialization
# failure against, another transaction. The database is fine and nothing was written;
# sent again, the request meets the other one's outcome.
ROLLED_BACK_SQLSTATE_CLASS = "40"

logger = logging.getLogger(__name__)
HTTP_METHODS = ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE")

_TITLES = {
    400: "Yêu cầu không hợp lệ",
    401: "Chưa xác thực",
    403: "Không có quyền",
    404: "Không tìm thấy",
    405: "Phương thức không được hỗ trợ",
    409: "Xung đột dữ liệu",
    413: "Dữ liệu gửi lên quá lớn",
    415: "Định dạng không được hỗ trợ",
    422: "Dữ liệu không hợp lệ",
    429: "Quá nhiều yêu cầu",
    500: "Lỗi máy chủ",
    503: "Dịch vụ tạm thời không sẵn sàng",
}


class Problem(BaseModel):
    """An RFC 9457 problem report."""

    type: str = "about:blank"
    title: str
    status: int
    detail: str | None = None
    errors: list[dict[str, Any]] = Field(default_factory=list)


def problem_response(
    status: int,
    detail: str | None = None,
    *,
    title: str | None = None,
    type: str = "about:blank",
    errors: list[dict[str, Any]] | None = None,
    headers: dict[str, str] | None = None,
) -> JSONResponse:
    """Build a problem+json response."""
    body = Problem(
        type=type,
        title=title or _TITLES.get(status, "Lỗi"),
        status=status,
        detail=detail,
        errors=errors or [],
    )
    return JSONResponse(
        body.model_dump(), status_code=status, media_type=PROBLEM_MEDIA_TYPE, headers=headers
    )


def problem_report(exc: ProblemError) -> JSONResponse:
    """A domain refusal as a problem+json response."""
    return problem_response(
        exc.status,
        exc.detail,
        title=exc.title,
        type=exc.type,
        errors=exc.errors,
        headers=exc.headers,
    )


def _validation_errors(exc: RequestValidationError) -> list[dict[str, Any]]:
    return [
        {"loc": list(error["loc"]), "msg": error["msg"], "type": error["type"]}
        for error in exc.errors()
    ]


def _allowed_methods(request: Request) -> str:
    # Starlette's Allow names the methods of the first route matching the path only;
    # a resource served by several routes (GET and POST /stations) must name them all.
    # A literal path documented in the schema wins over a template that also matches
    # it (/stations/import is not the station "import").
    documented = request.app.openapi()["paths"].get(request.url.path)
    if documented:
        return ", ".join(m for m in HTTP_METHODS if m.lower() in documented)
    allowed = [
        method
        for method in HTTP_METHODS
        if any(
            route.matches({**request.scope, "method": method})[0] == Match.FULL
            for route in request.app.router.routes
        )
    ]
    return ", ".join(allowed)


def database_trouble(method: str, path: str, exc: OperationalError) -> JSONResponse:
    """The answer when the database could not serve a request: 409 to send again, or 503."""
    sqlstate = getattr(exc.orig, "sqlstate", None) or ""
    if sqlstate.startswith(ROLLED_BACK_SQLSTATE_CLASS):
        logger.info("%s %s rolled back (%s)", method, path, sqlstate)
        return problem_response(
            409,
            "Yêu cầu trùng lúc với một thay đổi khác nên chưa được ghi; hãy gửi lại.",
            headers={"Retry-After": "1"},
        )
    logger.warning("%s %s: database unavailable: %s", method, path, exc.orig)
    return problem_response(
        503,
        "Không kết nối được cơ sở dữ liệu; hãy thử lại sau.",
        headers={"Retry-After": str(RETRY_AFTER_S)},
    )


def install_problem_handlers(app: FastAPI) -> None:
    """Make every error the app returns a problem report."""

    @app.exception_handler(ProblemError)
    async def _problem(_request: Request, exc: ProblemError) -> JSONResponse:
        return problem_report(exc)

    @app.exception_handler(RequestValidationError)
    async def _invalid(_request: Request, exc: RequestValidationError) -> JSONResponse:
        errors = _validation_errors(exc)
        return problem_response(422, f"{len(errors)} trường dữ liệu không hợp lệ.", errors=errors)

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        if exc.status_code == 405:
            headers = dict(exc.headers or {})
            allowed = _allowed_methods(request) or headers.get("Allow", "")
            detail = f"Đường dẫn này không nhận phương thức {request.method}"
            if allowed:
                headers["Allow"] = allowed
                detail += f"; hãy dùng {allowed}"
            return problem_response(405, f"{detail}.", headers=headers)
        return problem_response(exc.status_code, str(exc.detail), headers=exc.headers)

    @app.exception_handler(OverflowError)
    async def _too_big(_request: Request, _exc: OverflowError) -> JSONResponse:
        return problem_response(422, "Một giá trị số quá lớn.")

    @app.exception_handler(DataError)
    async def _unstorable(_request: Request, _exc: DataError) -> JSONResponse:
        # PostgreSQL refuses what SQLite takes: a number past its column's range, a NUL
        # character in text. Either came in the request; nothing was written.
        return problem_response(
            422, "Một giá trị gửi lên vượt quá giới hạn lưu trữ (số quá lớn hoặc ký tự NUL)."
        )

    @app.exception_handler(OperationalError)
    async def _database_down(request: Request, exc: OperationalError) -> JSONResponse:
        return database_trouble(request.method, request.url.path, exc)

    @app.exception_handler(OSError)
    async def _disk_full(_request: Request, exc: OSError) -> JSONResponse:
        # An upload is written to disk before any of our code sees it: a full disk
        # there is still the operator's problem to solve, not a server error.
        if exc.errno not in FULL_ERRNOS:
            raise exc
        return problem_response(507, FULL_DETAIL, title=StoreFullError.title)


# The schema is given inline: with `model`, FastAPI would document it under
# application/json, a media type no error is ever sent as.
PROBLEM_CONTENT = {PROBLEM_MEDIA_TYPE: {"schema": Problem.model_json_schema()}}
PROBLEM_RESPONSES: dict[int | str, dict[str, Any]] = {
    "4XX": {"description": "Client error (problem report)", "content": PROBLEM_CONTENT},
    "5XX": {"description": "Server error (problem report)", "content": PROBLEM_CONTENT},
}


def problem_doc(description: str, *, headers: dict[str, str] | None = None) -> dict[str, Any]:
    """An OpenAPI response entry for one problem status, with the headers it carries."""
    doc: dict[str, Any] = {"description": description, "content": PROBLEM_CONTENT}
    if headers:
        doc["headers"] = {
            name: {"description": text, "schema": {"type": "string"}}
            for name, text in headers.items()
        }
    return doc
