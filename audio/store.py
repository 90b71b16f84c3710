"""The content-addressed media store: `<media>/<sha256[:2]>/<sha256>.<ext>`.

A file enters the store only whole: it is written to a temporary file in the same
file system, flushed, hashed and then renamed into place, so a crash or a full disk
never leaves a half-written file under a hash name.
"""

import errno
import hashlib
import os
import re
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from core.errors import ProblemError

SHA256 = re.compile(r"^[0-9a-f]{64}$")
CHUNK = 1 << 20
FULL_DETAIL = "Ổ đĩa lưu âm thanh đã đầy; hãy giải phóng chỗ trống rồi thử lại."
FULL_ERRNOS = (errno.ENOSPC, errno.EDQUOT)
# ffmpeg tells a full disk only in words, the C library's own: these are they.
_FULL_WORDS = tuple(os.strerror(code) for code in FULL_ERRNOS)


class StoreFullError(ProblemError):
    """The disk holding the media store is full."""

    status = 507
    title = "Hết chỗ lưu trữ"

    def __init__(self, detail: str = FULL_DETAIL) -> None:
        super().__init__(detail)


def is_disk_full(exc: BaseException) -> bool:
    """Whether an error, ours or a tool's complaint, means the disk (or a quota) is full."""
    if isinstance(exc, OSError) and exc.errno in FULL_ERRNOS:
        return True
    return any(words in str(exc) for words in _FULL_WORDS)


@contextmanager
def reporting_full_disk() -> Iterator[None]:
    """Turn a full disk met inside the block into StoreFullError; other errors pass."""
    try:
        yield
    except StoreFullError:
        raise
    except Exception as exc:
        if is_disk_full(exc):
            raise StoreFullError() from exc
        raise


class MediaStore:
    """Files named by the SHA-256 of their bytes."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.tmp = root / ".tmp"

    def path(self, sha256: str, ext: str) -> Path:
        """Where a file with this hash lives (it may not exist)."""
        if not SHA256.match(sha256) or not ext.isalnum():
            raise ValueError("not a sha256 hex digest or a plain extension")
        return self.root / sha256[:2] / f"{sha256}.{ext}"

    def temp_path(self, suffix: str) -> Path:
        """A fresh temporary path inside the store's file system, for ffmpeg to write to."""
        with reporting_full_disk():
            self.tmp.mkdir(parents=True, exist_ok=True)
        return self.tmp / f"{os.getpid()}-{os.urandom(8).hex()}{suffix}"

    def put(self, source: Path, *, ext: str) -> tuple[str, int]:
        """Move a finished temporary file into the store; return its hash and size."""
        digest, size = hashlib.sha256(), 0
        try:
            with reporting_full_disk():
                with source.open("rb") as handle:
                    while chunk := handle.read(CHUNK):
                        digest.update(chunk)
                        size += len(chunk)
                    # With delayed allocation a full disk shows here, not when ffmpeg wrote.
                    os.fsync(handle.fileno())
                sha256 = digest.hexdigest()
                final = self.path(sha256, ext)
                final.parent.mkdir(parents=True, exist_ok=True)
                if final.exists():
                    source.unlink()
                else:
                    os.replace(source, final)
                    _fsync_dir(final.parent)
        except BaseException:
            source.unlink(missing_ok=True)
            raise
        return sha256, size

    def write_bytes(self, data: bytes, *, ext: str) -> tuple[str, int]:
        """Store some bytes whole; return their hash and size."""
        temp = self.temp_path(f".{ext}")
        try:
            with reporting_full_disk(), temp.open("wb") as handle:
                handle.write(data)
        except BaseException:
            temp.unlink(missing_ok=True)
            raise
        return self.put(temp, ext=ext)

    def verify(self, sha256: str, ext: str) -> bool:
        """Tell whether the stored file still has the hash it is named by."""
        digest = hashlib.sha256()
        with self.path(sha256, ext).open("rb") as handle:
            while chunk := handle.read(CHUNK):
                digest.update(chunk)
        return digest.hexdigest() == sha256


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
