"""Multipart uploads streamed to disk with a size cap, before anything is decoded or stored."""

from collections.abc import AsyncIterator
from pathlib import Path

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
    """Stream a multipart form with one `file` to a temporary file; return it, its name, fields."""
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
    fields = {k: v for k, v in form.multi_items() if isinstance(v, str)}
    return temp, upload.filename or "upload", fields


MAX_DOCUMENT_BYTES = 2_000_000


async def read_text_document(request: Request, *, media_types: tuple[str, ...], what: str) -> str:
    """Read a UTF-8 text document sent as the body or as the `file` of a multipart form."""
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
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise InvalidError(f"Văn bản {what} phải mã hóa UTF-8.") from None
