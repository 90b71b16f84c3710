"""People and devices: passwords, access tokens, device tokens and login throttling."""

import hashlib
import re
import secrets
import threading
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import cache

import jwt
from pwdlib import PasswordHash
from sqlalchemy import Engine, bindparam, update
from sqlmodel import Session, col, func, select

from core.clock import utcnow
from core.db import session_scope
from core.errors import ConflictError, InvalidError, ThrottledError, UnauthorizedError
from core.models import DeviceToken, LoginAttempt, Role, User
from core.settings import Settings

DEVICE_TOKEN_PREFIX = "ttd_"
USERNAME_PATTERN = re.compile(r"^[a-z0-9][a-z0-9._-]{2,63}$")
MIN_PASSWORD_LENGTH = 10
# A device pulling every minute would otherwise write its token row every minute.
LAST_USED_RESOLUTION = timedelta(minutes=5)
JWT_ALGORITHM = "HS256"
_ID = re.compile(r"[1-9][0-9]{0,17}", re.ASCII)  # an account id, within a BIGINT

_hasher = PasswordHash.recommended()


@cache
def _dummy_hash() -> str:
    # Verified when the username is unknown, so a miss costs as long as a wrong password.
    return _hasher.hash("not-a-real-password")


@dataclass(frozen=True)
class AccessToken:
    """A bearer token for the REST API and when it stops working."""

    token: str
    expires_at: datetime


def hash_password(password: str) -> str:
    """Hash a password with Argon2."""
    return _hasher.hash(password)


def check_new_password(password: str) -> None:
    """Refuse a password too weak to protect public-service records."""
    if len(password) < MIN_PASSWORD_LENGTH:
        raise InvalidError(
            f"Mật khẩu phải dài ít nhất {MIN_PASSWORD_LENGTH} ký tự.",
            errors=[{"field": "password", "msg": "quá ngắn"}],
        )


def create_user(
    session: Session,
    *,
    username: str,
    password: str,
    role: Role,
    station_id: int | None,
    full_name: str = "",
) -> User:
    """Add a person; everyone but an admin needs a station as their scope."""
    username = username.strip().lower()
    if not USERNAME_PATTERN.match(username):
        raise InvalidError(
            "Tên đăng nhập chỉ gồm chữ thường không dấu, số, dấu chấm, gạch; dài 3-64 ký tự.",
            errors=[{"field": "username", "msg": "không hợp lệ"}],
        )
    if role != Role.admin and station_id is None:
        raise InvalidError(
            f"Vai trò {role.value} cần một đài làm phạm vi.",
            errors=[{"field": "station", "msg": "bắt buộc"}],
        )
    check_new_password(password)
    if session.exec(select(User.id).where(User.username == username)).first() is not None:
        raise ConflictError(f"Đã có tài khoản {username!r}.")
    user = User(
        username=username,
        full_name=full_name,
        role=role,
        station_id=station_id,
        password_hash=hash_password(password),
    )
    session.add(user)
    session.flush()
    return user


def set_password(session: Session, *, user: User, password: str) -> None:
    """Change a password and end every session and token issued before."""
    check_new_password(password)
    user.password_hash = hash_password(password)
    user.token_version += 1
    session.add(user)
    session.flush()


def deactivate_user(session: Session, *, user: User) -> None:
    """Stop a person from logging in and invalidate their tokens; the last admin stays."""
    if user.role == Role.admin and user.active:
        # Every active admin's row is locked, the one going too: two admins disabling
        # each other at once are taken in turn, and the second finds itself the last.
        admins = session.exec(
            select(User.id)
            .where(User.role == Role.admin, col(User.active).is_(True))
            .order_by(User.id)
            .with_for_update()
        ).all()
        if not set(admins) - {user.id}:
            raise ConflictError(
                f"Không thể khóa {user.username}: đây là quản trị viên cuối cùng còn hoạt "
                "động, khóa đi thì không ai quản trị được hệ thống. Hãy tạo một tài khoản "
                "quản trị khác trước."
            )
    user.active = False
    user.token_version += 1
    session.add(user)
    session.flush()


def _throttle(session: Session, *, settings: Settings, username: str, client: str) -> None:
    since = utcnow() - timedelta(minutes=settings.login_window_minutes)
    last_success = session.exec(
        select(func.max(LoginAttempt.at)).where(
            LoginAttempt.username == username, LoginAttempt.success, LoginAttempt.at >= since
        )
    ).one()
    user_since = max(since, last_success) if last_success else since
    failures = session.exec(
        select(func.count(), func.min(LoginAttempt.at)).where(
            LoginAttempt.username == username,
            col(LoginAttempt.success).is_(False),
            LoginAttempt.at > user_since,
        )
    ).one()
    # One address trying many usernames is stopped too, a little later.
    client_failures = session.exec(
        select(func.count(), func.min(LoginAttempt.at)).where(
            LoginAttempt.client == client,
            col(LoginAttempt.success).is_(False),
            LoginAttempt.at > since,
        )
    ).one()
    for (count, first), limit in (
        (failures, settings.login_max_failures),
        (client_failures, settings.login_max_failures * 4),
    ):
        if count >= limit:
            retry = first + timedelta(minutes=settings.login_window_minutes) - utcnow()
            seconds = max(1, int(retry.total_seconds()) + 1)
            raise ThrottledError(
                f"Đăng nhập sai quá nhiều lần; hãy thử lại sau {(seconds + 59) // 60} phút.",
                headers={"Retry-After": str(seconds)},
            )


def authenticate(
    session: Session, *, settings: Settings, username: str, password: str, client: str
) -> User:
    """Check a password login, with throttling; the attempt is committed either way."""
    username = username.strip().lower()[:64]
    _throttle(session, settings=settings, username=username, client=client)
    user = session.exec(select(User).where(User.username == username)).first()
    valid = _hasher.verify(password, user.password_hash if user else _dummy_hash())
    success = bool(user and valid and user.active)
    session.add(LoginAttempt(username=username, client=client[:64], success=success))
    if success:
        assert user is not None
        user.last_login_at = utcnow()
        session.add(user)
    session.commit()
    if not success:
        raise UnauthorizedError("Tên đăng nhập hoặc mật khẩu không đúng.")
    assert user is not None
    return user


def issue_access_token(*, settings: Settings, user: User) -> AccessToken:
    """Sign a bearer token for a user, valid for the configured lifetime."""
    expires_at = utcnow() + timedelta(minutes=settings.access_token_minutes)
    claims = {"sub": str(user.id), "ver": user.token_version, "exp": expires_at}
    token = jwt.encode(claims, settings.signing_key, algorithm=JWT_ALGORITHM)
    return AccessToken(token=token, expires_at=expires_at)


def user_from_access_token(session: Session, *, settings: Settings, token: str) -> User:
    """Return the active user a bearer token belongs to, or raise UnauthorizedError."""
    try:
        claims = jwt.decode(
            token,
            settings.signing_key,
            algorithms=[JWT_ALGORITHM],
            options={"require": ["exp", "sub", "ver"]},
        )
    except jwt.ExpiredSignatureError:
        raise UnauthorizedError("Phiên đăng nhập đã hết hạn; hãy đăng nhập lại.") from None
    except jwt.InvalidTokenError:
        raise UnauthorizedError("Mã truy cập không hợp lệ.") from None
    sub, version = claims["sub"], claims["ver"]
    # Signed by us, yet checked: a key that leaked or a token from an older release must
    # get a 401, never reach the database with a number no id column can hold.
    if not (isinstance(sub, str) and _ID.fullmatch(sub)) or type(version) is not int:
        raise UnauthorizedError("Mã truy cập không hợp lệ.")
    return user_for_session(session, user_id=int(sub), version=version)


def user_for_session(session: Session, *, user_id: int, version: int) -> User:
    """Return the user a token or web session names, if it is still valid for them."""
    user = session.get(User, user_id)
    if user is None or not user.active or user.token_version != version:
        raise UnauthorizedError("Mã truy cập không còn hiệu lực; hãy đăng nhập lại.")
    return user


def token_digest(secret: str) -> str:
    """How a device token is stored and looked up: its SHA-256."""
    return hashlib.sha256(secret.encode()).hexdigest()


def create_device_token(
    session: Session, *, station_id: int, cluster_id: int | None, name: str, created_by: str
) -> tuple[DeviceToken, str]:
    """Make a device token; the secret is returned once and only its hash is kept."""
    secret = DEVICE_TOKEN_PREFIX + secrets.token_urlsafe(32)
    device = DeviceToken(
        name=name,
        station_id=station_id,
        cluster_id=cluster_id,
        token_hash=token_digest(secret),
        prefix=secret[:12],
        created_by=created_by,
    )
    session.add(device)
    session.flush()
    return device, secret


class UsageLog:
    """Last uses of device tokens, kept here and written in one batch every few seconds.

    A morning pull after a night's silence would otherwise write one row per device,
    each waiting its turn for SQLite's write lock; and a write in the middle of another
    request's transaction would end that transaction. The last use is bookkeeping, kept
    to within the flush's few seconds, so a crash may lose a few seconds of it.
    """

    def __init__(self) -> None:
        self.pending: dict[int, datetime] = {}
        self.lock = threading.Lock()

    def note_use(self, *, device_id: int, last_used_at: datetime | None) -> None:
        """Remember a use now until the next flush, unless the one on record is recent
        enough to say the same."""
        now = utcnow()
        if _stale(last_used_at, now):
            with self.lock:
                self.pending[device_id] = now

    def flush(self, engine: Engine) -> int:
        """Write every pending use in a transaction of its own; return how many."""
        with self.lock:
            due, self.pending = self.pending, {}
        if not due:
            return 0
        try:
            with session_scope(engine, write=True) as session:
                # One statement per thousand devices, all at the newest use: a statement
                # per device kept a morning's flush and the requests beside it waiting
                # for each other's turn with the interpreter, row after row.
                # In id order: two server processes flushing the same devices (a pull
                # and its repeat answered by different processes) lock rows in the same
                # order, so they wait for each other instead of deadlocking.
                ids, at = sorted(due), max(due.values())
                for first in range(0, len(ids), USES_PER_STATEMENT):
                    _write_last_used(session, ids[first : first + USES_PER_STATEMENT], at)
        except Exception:
            with self.lock:  # kept for the next flush, unless a newer use came meanwhile
                self.pending = due | self.pending
            raise
        return len(due)


USES_PER_STATEMENT = 1000
_MARK_USED = (
    update(DeviceToken)
    .where(col(DeviceToken.id).in_(bindparam("ids", expanding=True)))
    .values(last_used_at=bindparam("at"))
)


def _write_last_used(session: Session, ids: list[int], at: datetime) -> None:
    session.execute(_MARK_USED, {"ids": ids, "at": at})


# Built once: on a device's every request, building the statement cost more than running it.
_DEVICE_BY_HASH = select(DeviceToken).where(DeviceToken.token_hash == bindparam("digest"))


def device_from_token(
    session: Session, *, token: str, usage: UsageLog | None = None
) -> DeviceToken:
    """Return the live device a token belongs to and note its use, or raise Unauthorized."""
    device = session.exec(_DEVICE_BY_HASH, params={"digest": token_digest(token)}).first()
    if device is None:
        raise UnauthorizedError("Mã thiết bị không hợp lệ.")
    if device.revoked_at is not None:
        raise UnauthorizedError("Mã thiết bị đã bị thu hồi.")
    if usage is not None:
        usage.note_use(device_id=device.id, last_used_at=device.last_used_at)
    elif _stale(device.last_used_at, utcnow()):
        # In a transaction of its own that asks for the write lock first, so a pull
        # (a read) never fails because another writer got in between.
        session.commit()
        session.connection(execution_options={"sqlite_immediate": True})
        _write_last_used(session, [device.id], utcnow())
        session.commit()
    return device


def _stale(last_used_at: datetime | None, now: datetime) -> bool:
    return last_used_at is None or now - last_used_at > LAST_USED_RESOLUTION


def revoke_device_token(session: Session, *, device: DeviceToken) -> None:
    """Stop a device token from working; the row stays for the record."""
    if device.revoked_at is None:
        device.revoked_at = utcnow()
        session.add(device)
        session.flush()
