"""The agent's only way to the server: the public HTTP API, with a device token."""

import contextlib
import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

import httpx

from agent import SOFTWARE

API = "/api/v1"
CONNECT_TIMEOUT_S = 5.0
READ_TIMEOUT_S = 30.0
# The server sends a keepalive comment every 15 s; three missed ones mean the stream is dead.
STREAM_READ_TIMEOUT_S = 50.0
RETRYABLE = {408, 425, 429}


class Unreachable(Exception):
    """The server could not be reached or is failing for now (network, 5xx); try again later."""


class Refused(Exception):
    """The server answered 4xx: sending the same request again will not help."""

    def __init__(self, status: int, detail: str) -> None:
        super().__init__(f"máy chủ từ chối ({status}): {detail}")
        self.status = status
        self.detail = detail


@dataclass(frozen=True)
class Device:
    """Who the device token speaks for."""

    id: int
    name: str
    station: str
    timezone: str
    cluster: str | None


@dataclass(frozen=True)
class Fetched:
    """A playlist pull: 200 with the document, or 304 when the held copy is current."""

    status: int
    etag: str | None
    document: dict[str, Any] | None


@dataclass(frozen=True)
class Event:
    """One server-sent event."""

    id: int | None
    kind: str
    data: dict[str, Any]


def _detail(response: httpx.Response) -> str:
    try:
        body = response.json()
    except ValueError:
        return response.text[:200] or response.reason_phrase
    if isinstance(body, dict):
        return str(body.get("detail") or body.get("title") or body)[:300]
    return str(body)[:300]


def _check(response: httpx.Response) -> httpx.Response:
    status = response.status_code
    if status >= 500 or status in RETRYABLE:
        raise Unreachable(f"máy chủ tạm lỗi ({status})")
    if status >= 400:
        raise Refused(status, _detail(response))
    return response


class ServerClient:
    """A small HTTP client for one thread of the agent; every failure is Unreachable or Refused."""

    def __init__(self, base_url: str, token: str) -> None:
        self.http = httpx.Client(
            base_url=base_url.rstrip("/") + API,
            headers={"Authorization": f"Bearer {token}", "User-Agent": SOFTWARE},
            timeout=httpx.Timeout(READ_TIMEOUT_S, connect=CONNECT_TIMEOUT_S),
        )

    def close(self) -> None:
        """Close the connections."""
        self.http.close()

    def _send(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        try:
            response = self.http.request(method, path, **kwargs)
        except httpx.HTTPError as exc:
            raise Unreachable(f"không kết nối được máy chủ: {exc or type(exc).__name__}") from exc
        return _check(response)

    def me(self) -> Device:
        """The station, time zone and cluster of this device."""
        body = self._send("GET", "/devices/me").json()
        return Device(
            id=body["id"],
            name=body["name"],
            station=body["station"],
            timezone=body["timezone"],
            cluster=body.get("cluster"),
        )

    def playlist(
        self, station: str, day: date, *, cluster: str | None, etag: str | None
    ) -> Fetched:
        """One day's playlist, or 304 when `etag` is still current."""
        headers = {"If-None-Match": etag} if etag else {}
        params = {"cluster": cluster} if cluster else {}
        response = self._send(
            "GET",
            f"/stations/{station}/playlists/{day.isoformat()}",
            headers=headers,
            params=params,
        )
        if response.status_code == 304:
            return Fetched(304, etag, None)
        return Fetched(200, response.headers.get("etag"), response.json())

    def download(self, sha256: str, part: Path) -> None:
        """Fetch an audio file into `part`, resuming what an earlier attempt left there."""
        offset = part.stat().st_size if part.exists() else 0
        headers = {"Range": f"bytes={offset}-"} if offset else {}
        try:
            with self.http.stream("GET", f"/audio/{sha256}", headers=headers) as response:
                if response.status_code == 416:  # the partial file is already whole, or wrong
                    part.unlink(missing_ok=True)
                    raise Unreachable("tệp tải dở không khớp, sẽ tải lại từ đầu")
                if response.status_code >= 400:
                    response.read()
                _check(response)
                mode = "ab" if response.status_code == 206 else "wb"
                with part.open(mode) as out:
                    for chunk in response.iter_bytes(64 * 1024):
                        out.write(chunk)
        except httpx.HTTPError as exc:
            raise Unreachable(f"tải âm thanh bị ngắt: {exc or type(exc).__name__}") from exc

    def post_airings(self, station: str, records: list[dict[str, Any]]) -> dict[str, Any]:
        """Send airing records; the answer lists accepted, duplicate and rejected ids."""
        return self._send("POST", f"/stations/{station}/airings", json={"records": records}).json()

    def heartbeat(self, station: str, state: dict[str, Any]) -> None:
        """Tell the server how this device is doing."""
        self._send("POST", f"/stations/{station}/heartbeats", json=state)

    def events_after(self, station: str, after: int) -> list[dict[str, Any]]:
        """Events newer than `after`, oldest first (the polling fallback)."""
        return self._send("GET", f"/stations/{station}/events", params={"after": after}).json()

    def stream_events(self, station: str, *, last_id: int | None) -> Iterator[Event]:
        """Server-sent events from the stream, resuming after `last_id`; ends when it closes."""
        headers = {"Accept": "text/event-stream"}
        if last_id is not None:
            headers["Last-Event-ID"] = str(last_id)
        timeout = httpx.Timeout(STREAM_READ_TIMEOUT_S, connect=CONNECT_TIMEOUT_S)
        try:
            with self.http.stream(
                "GET", f"/stations/{station}/events/stream", headers=headers, timeout=timeout
            ) as response:
                if response.status_code >= 400:
                    response.read()
                _check(response)
                kind = response.headers.get("content-type", "")
                if not kind.startswith("text/event-stream"):
                    raise Unreachable(f"luồng sự kiện trả về {kind or 'không rõ kiểu'}")
                yield from parse_sse(response.iter_lines())
        except httpx.HTTPError as exc:
            raise Unreachable(f"luồng sự kiện bị ngắt: {exc or type(exc).__name__}") from exc


def parse_sse(lines: Iterator[str]) -> Iterator[Event]:
    """Turn text/event-stream lines into events; comments and retry hints are skipped."""
    event_id: int | None = None
    kind, data = "message", []
    for line in lines:
        if not line:
            if data:
                with contextlib.suppress(ValueError):  # not ours to understand
                    yield Event(event_id, kind, json.loads("\n".join(data)))
            kind, data = "message", []
            continue
        if line.startswith(":"):
            continue
        name, _, value = line.partition(":")
        value = value.removeprefix(" ")
        if name == "data":
            data.append(value)
        elif name == "event":
            kind = value
        elif name == "id" and value.isdigit():
            event_id = int(value)
