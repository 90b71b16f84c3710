"""Multipart uploads streamed to disk with a size cap, before anything is decoded or stored.

What a client says about its file is not trusted: the name it gives is kept only as a
label, never as a path, and the declared content type is ignored. An audio upload must
start like an audio container before ffmpeg opens it (`require_audio`), because ffmpeg
also reads text playlists (ffconcat, HLS) that name other files on the server.
"""

import re
import unicodedata
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

from fastapi import Request
from starlette.datastructures import UploadFile
from starlette.formparsers import MultiPartException, MultiPartParser

from audio.store import MediaStore
from core.errors import InvalidError, ProblemError

CHUNK = 1 << 16


class TooLargeError(ProblemError):
    """An upload larger than the configured cap."""

    status = 413
    title = "Dữ liệu gửi lên quá lớn"


async def _capped(request: Request, limit: int) -> AsyncIterator[bytes]:
    received = 0
    async for chunk in request.stream():
        received += len(chunk)
        if received > limit:
            raise TooLargeError(f"Tệp tải lên vượt quá {limit // (1 << 20)} MB.")
        yield chunk


async def receive_upload(
    request: Request, *, store: MediaStore, limit: int
) -> tuple[Path, str, dict[str, str]]:
    """Stream a multipart form with one `file` to a temporary file; return it, its name, fields.

    The name is the client's, cleaned to a label (see `client_filename`). Before the file
    goes near ffmpeg, check it with `require_audio`.
    """
    media_type = request.headers.get("content-type", "")
    if not media_type.startswith("multipart/form-data"):
        raise ProblemError(
            "Hãy gửi tệp trong multipart/form-data.",
            status=415,
            title="Định dạng không được hỗ trợ",
        )
    if int(request.headers.get("content-length") or 0) > limit:
        raise TooLargeError(f"Tệp tải lên vượt quá {limit // (1 << 20)} MB.")
    parser = MultiPartParser(request.headers, _capped(request, limit), max_files=1, max_fields=20)
    try:
        form = await parser.parse()
    except MultiPartException as exc:
        raise InvalidError(f"Biểu mẫu tải lên không hợp lệ: {exc.message}.") from None
    upload = form.get("file")
    if not isinstance(upload, UploadFile):
        raise InvalidError("Thiếu tệp (trường 'file').", errors=[{"field": "file", "msg": "thiếu"}])
    fields = {k: v for k, v in form.multi_items() if isinstance(v, str)}
    bad = sorted(name for name, value in fields.items() if "\x00" in value)
    if bad:
        # No one types a NUL; PostgreSQL could not store it anyway.
        raise InvalidError(
            "Biểu mẫu có ký tự NUL không hợp lệ.",
            errors=[{"field": name, "msg": "có ký tự NUL"} for name in bad],
        )
    temp = store.temp_path(".upload")
    try:
        with temp.open("wb") as out:
            while chunk := await upload.read(CHUNK):
                out.write(chunk)
    except BaseException:
        temp.unlink(missing_ok=True)
        raise
    finally:
        await upload.close()
    return temp, client_filename(upload.filename or ""), fields


def require_audio(path: Path) -> None:
    """Refuse a file whose first bytes are not those of an audio container, whatever its name."""
    with path.open("rb") as handle:
        head = handle.read(16)
    if not head:
        raise InvalidError("Tệp tải lên rỗng.", errors=[{"field": "file", "msg": "rỗng"}])
    if looks_like_audio(head):
        return
    raise InvalidError(
        "Tệp tải lên không phải âm thanh (MP3, WAV, OGG, M4A, FLAC, AMR…): nội dung "
        "tệp không khớp định dạng âm thanh nào, dù tên hay kiểu khai báo là gì.",
        errors=[{"field": "file", "msg": "không phải âm thanh"}],
    )


# WMA and other Windows Media audio come in an ASF container.
_ASF = bytes.fromhex("3026b2758e66cf11a6d900aa0062ce6c")


def looks_like_audio(head: bytes) -> bool:
    """Tell whether the first 16 bytes of a file are those of an audio container ffmpeg reads."""
    if head[:3] == b"ID3" or head[:5] == b"#!AMR" or head[:16] == _ASF:
        return True
    if len(head) >= 2 and head[0] == 0xFF and head[1] & 0xE0 == 0xE0:
        return True  # an MPEG audio or ADTS frame: MP3 without a tag, raw AAC
    if head[:4] in (b"OggS", b"fLaC", b"\x1aE\xdf\xa3"):
        return True  # Ogg (Vorbis, Opus), FLAC, Matroska or WebM
    if head[:4] in (b"RIFF", b"RF64") and head[8:12] == b"WAVE":
        return True
    if head[:4] == b"FORM" and head[8:12] in (b"AIFF", b"AIFC"):
        return True
    return head[4:8] == b"ftyp"  # MP4, M4A, 3GP


_SEPARATORS = re.compile(r"[/\\]")


def client_filename(raw: str) -> str:
    """The last part of a client's file name, as a label: no folders, controls or bidi tricks."""
    # NFKC turns full-width and other look-alike slashes into real ones before splitting.
    text = unicodedata.normalize("NFKC", raw)
    text = "".join(c for c in text if not unicodedata.category(c).startswith("C"))
    name = _SEPARATORS.split(text)[-1].strip().lstrip(".")
    return name[:255] or "upload"


MAX_DOCUMENT_BYTES = 2_000_000


async def read_text_document(request: Request, *, media_types: tuple[str, ...], what: str) -> str:
    """Read a UTF-8 text document sent as the body or as the `file` of a multipart form."""
    raw = await read_document(request, media_types=media_types, what=what)
    if b"\x00" in raw:
        # PostgreSQL cannot store NUL in text; no real document contains one.
        raise InvalidError(f"Văn bản {what} chứa ký tự NUL: đây không phải tệp văn bản.")
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise InvalidError(f"Văn bản {what} phải mã hóa UTF-8.") from None


async def read_document(request: Request, *, media_types: tuple[str, ...], what: str) -> bytes:
    """Read the bytes of a document sent as the body or as the `file` of a multipart form."""
    media_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if media_type not in (*media_types, "multipart/form-data"):
        raise ProblemError(
            f"Gửi văn bản {what} dạng {', '.join(media_types)} hoặc tệp trong multipart/form-data.",
            status=415,
            title="Định dạng không được hỗ trợ",
        )
    if int(request.headers.get("content-length") or 0) > MAX_DOCUMENT_BYTES:
        raise TooLargeError(f"Văn bản {what} quá lớn (tối đa 2 MB).")
    if media_type == "multipart/form-data":
        form = await request.form(max_files=1, max_fields=5)
        upload = form.get("file")
        if not isinstance(upload, UploadFile):
            raise InvalidError(f"Thiếu tệp {what} (trường 'file').", errors=[{"field": "file"}])
        raw = await upload.read(MAX_DOCUMENT_BYTES + 1)
    else:
        raw = b""
        async for chunk in request.stream():
            raw += chunk
            if len(raw) > MAX_DOCUMENT_BYTES:
                break
    if len(raw) > MAX_DOCUMENT_BYTES:
        raise TooLargeError(f"Văn bản {what} quá lớn (tối đa 2 MB).")
    return raw


def multipart_body(required: list[str], properties: dict[str, Any]) -> dict[str, Any]:
    """The `openapi_extra` of a route that streams its own multipart upload
    (`receive_upload`), so that the document still shows the form it reads."""
    return {
        "requestBody": {
            "required": True,
            "content": {
                "multipart/form-data": {
                    "schema": {"type": "object", "required": required, "properties": properties}
                }
            },
        }
    }
