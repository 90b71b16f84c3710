"""Errors shared by every package."""

from typing import Any


class ConfigError(Exception):
    """A problem with settings or the environment that stops the program.

    Its message is one sentence meant for the person running the program.
    """


class DatabaseBehindError(ConfigError):
    """The database schema is older than the code that wants to use it."""


class ProblemError(Exception):
    """An error that becomes an RFC 9457 problem report at the API edge."""

    status: int = 400
    title: str = "Yêu cầu không hợp lệ"
    type: str = "about:blank"

    def __init__(
        self,
        detail: str,
        *,
        status: int | None = None,
        title: str | None = None,
        type: str | None = None,
        errors: list[dict[str, Any]] | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(detail)
        self.detail = detail
        if status is not None:
            self.status = status
        if title is not None:
            self.title = title
        if type is not None:
            self.type = type
        self.errors = errors or []
        self.headers = headers


class UnauthorizedError(ProblemError):
    """No valid credentials came with the request."""

    status = 401
    title = "Chưa xác thực"

    def __init__(self, detail: str, **kwargs: Any) -> None:
        kwargs.setdefault("headers", {"WWW-Authenticate": "Bearer"})
        super().__init__(detail, **kwargs)


class ForbiddenError(ProblemError):
    """The caller is known but may not do this."""

    status = 403
    title = "Không có quyền"


class ThrottledError(ProblemError):
    """Too many attempts; the caller must wait."""

    status = 429
    title = "Quá nhiều yêu cầu"


class NotFoundError(ProblemError):
    """The object asked for does not exist (or must not be revealed)."""

    status = 404
    title = "Không tìm thấy"


class ConflictError(ProblemError):
    """The request clashes with the current state of the data."""

    status = 409
    title = "Xung đột dữ liệu"


class InvalidError(ProblemError):
    """The request is well-formed but its content cannot be accepted."""

    status = 422
    title = "Dữ liệu không hợp lệ"


def refuse_fields(summary: str, problems: list[tuple[str, str]]) -> None:
    """Raise one InvalidError naming every (field, reason) pair, if there is any."""
    if problems:
        raise InvalidError(
            f"{summary}: " + "; ".join(f"{field} {reason}" for field, reason in problems) + ".",
            errors=[{"field": field, "msg": reason} for field, reason in problems],
        )


class UnavailableError(ProblemError):
    """A dependency (database, network voice) cannot be reached right now."""

    status = 503
    title = "Dịch vụ tạm thời không sẵn sàng"
