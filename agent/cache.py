"""Audio files kept by their sha256, each checked by hash before it is trusted."""

import hashlib
import logging
import os
import re
import threading
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from agent.client import ServerClient

log = logging.getLogger("agent.cache")

SHA256 = re.compile(r"^[0-9a-f]{64}$")
FORMAT = re.compile(r"^[a-z0-9]{1,8}$")


class AudioUnavailable(Exception):
    """The file is not in the cache (or is damaged) and could not be fetched now."""


def file_sha256(path: Path) -> str:
    """The sha256 of a file, read in chunks."""
    digest = hashlib.sha256()
    with path.open("rb") as source:
        while chunk := source.read(1024 * 1024):
            digest.update(chunk)
    return digest.hexdigest()


def write_atomically(path: Path, data: bytes) -> None:
    """Replace a file in one step, so a power cut leaves the old or the new one, never half."""
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(path.name + ".tmp")
    with temporary.open("wb") as out:
        out.write(data)
        out.flush()
        os.fsync(out.fileno())
    os.replace(temporary, path)


class AudioCache:
    """The agent's audio files, named `<sha256[:2]>/<sha256>.<format>` under the cache."""

    def __init__(self, root: Path) -> None:
        self.root = root / "audio"
        self.root.mkdir(parents=True, exist_ok=True)
        self.downloaded = 0
        self.repaired = 0
        self._guard = threading.Lock()
        self._locks: dict[str, threading.Lock] = {}

    def path(self, audio: dict[str, Any]) -> Path:
        """Where a playlist entry's audio lives in the cache."""
        sha256, fmt = str(audio.get("sha256", "")), str(audio.get("format") or "mp3")
        if not SHA256.match(sha256) or not FORMAT.match(fmt):
            raise AudioUnavailable(f"mục âm thanh không hợp lệ: {sha256[:16]!r}.{fmt!r}")
        return self.root / sha256[:2] / f"{sha256}.{fmt}"

    def holds(self, audio: dict[str, Any]) -> bool:
        """Whether the file is present (without hashing it)."""
        try:
            return self.path(audio).is_file()
        except AudioUnavailable:
            return False

    def _lock(self, sha256: str) -> threading.Lock:
        with self._guard:
            return self._locks.setdefault(sha256, threading.Lock())

    def _intact(self, audio: dict[str, Any], path: Path) -> bool:
        if not path.is_file():
            return False
        if file_sha256(path) == audio["sha256"]:
            return True
        log.warning(
            "Tệp âm thanh %s… trong bộ nhớ đệm bị hỏng (sai mã băm); xoá để tải lại.",
            audio["sha256"][:12],
        )
        path.unlink(missing_ok=True)
        self.repaired += 1
        return False

    def verify(self, audio: dict[str, Any]) -> bool:
        """Whether the cached file is whole; a damaged one is removed."""
        with self._lock(audio["sha256"]):
            return self._intact(audio, self.path(audio))

    def ensure(self, audio: dict[str, Any], client: ServerClient | None) -> Path:
        """The path of a verified copy, downloading it again if missing or damaged."""
        path = self.path(audio)
        sha256 = audio["sha256"]
        with self._lock(sha256):
            if self._intact(audio, path):
                return path
            if client is None:
                raise AudioUnavailable("không có tệp âm thanh trong bộ nhớ đệm")
            path.parent.mkdir(parents=True, exist_ok=True)
            part = path.with_name(path.name + ".part")
            client.download(sha256, part)
            if file_sha256(part) != sha256:
                part.unlink(missing_ok=True)
                raise AudioUnavailable(f"tệp {sha256[:12]}… tải về sai mã băm, sẽ tải lại")
            with part.open("rb") as written:
                os.fsync(written.fileno())
            os.replace(part, path)
            self.downloaded += 1
            log.info(
                "Đã tải và kiểm tra tệp âm thanh %s… (%d byte).", sha256[:12], path.stat().st_size
            )
            return path

    def prune(self, keep: Iterable[str]) -> int:
        """Remove files no held playlist refers to; return how many."""
        wanted = set(keep)
        removed = 0
        for path in self.root.glob("*/*"):
            if path.name.split(".", 1)[0] not in wanted:
                path.unlink(missing_ok=True)
                removed += 1
        return removed
