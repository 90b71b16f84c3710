"""Stalled request bodies: the health check and a device's pull while clients hold bodies open.

Usage: .venv/bin/python -m bench.stalled_bodies [--stalled 100] [--requests 200]
       [--workers 1] [--body-timeout 20] [--database-url URL]

The tree: one province with one commune of five clusters, its relays and today's
playlist made beforehand, and a station-wide device token for the commune. The real
server (`truyenthanh serve`, one worker as by default) runs on 127.0.0.1. A probe asks
`--requests` times, one request at a time, for `/api/v1/health` and for the commune's
playlist of today with the device token (the fast path), each on its own keep-alive
connection of a bare asyncio client. A request not answered within 5 s counts as
unanswered, and a probe gives up after three of them.

Three probes, in one run against one server:

1. the baseline: nothing else open;
2. with `--stalled` clients that each send `POST /api/v1/stations/{code}/airings` with
   `Content-Length: 100`, its headers and `{`, then nothing, and no token: what an
   outside audit did to freeze the API;
3. the same from the commune's own device token, as a device on a weak link would:
   the server waits for these bodies (`--body-timeout`, TRUYENTHANH_BODY_TIMEOUT_S),
   so they are all open during the whole probe.

The figures are each probe's p50, p99 and slowest answer, the ratio of a probe's p99 to
the baseline's, and what the stalled clients got and when. The goal: with 100 stalled
bodies open, the health check and a pull answer in under 1 s.
"""

import argparse
import asyncio
import time
from dataclasses import dataclass, field
from urllib.parse import urlsplit

from bench.pull_storm import (
    RawConnection,
    build_tree,
    generate,
    local_today,
    make_devices,
    ms,
    our_server,
    percentile,
    scratch_database,
    server_troubles,
)

ANSWER_TIMEOUT_S = 5.0
GIVE_UP_AFTER = 3
GOAL_S = 1.0


@dataclass
class Probe:
    """Latencies of the health checks and pulls of one probe, and what went unanswered."""

    health: list[float] = field(default_factory=list)
    pull: list[float] = field(default_factory=list)
    statuses: dict[str, dict[int, int]] = field(default_factory=dict)
    unanswered: int = 0

    @property
    def slowest(self) -> float:
        """The slowest answer, or the timeout when something went unanswered."""
        return ANSWER_TIMEOUT_S if self.unanswered else max(self.health + self.pull)

    def line(self, name: str, baseline: "Probe | None" = None) -> str:
        """A report line, with the ratio of p99s to the baseline's when given."""
        parts = []
        for what, values in (("health", self.health), ("pull", self.pull)):
            if not values:
                parts.append(f"{what}: nothing answered")
                continue
            figure = (
                f"{what} {len(values)} answered, p50 {ms(percentile(values, 50))}, "
                f"p99 {ms(percentile(values, 99))}, max {ms(max(values))}"
            )
            if baseline is not None and values:
                ratio = percentile(values, 99) / percentile(getattr(baseline, what), 99)
                figure += f" (p99 / baseline {ratio:.2f})"
            parts.append(figure)
        unanswered = (
            f"; {self.unanswered} unanswered within {ANSWER_TIMEOUT_S:.0f} s, then given up"
            if self.unanswered
            else ""
        )
        return f"{name}: " + "; ".join(parts) + f"; statuses {self.statuses}{unanswered}"


async def probe(base: str, *, pull: str, device: str, requests: int) -> Probe:
    """Health checks and pulls, one at a time, alternating, on two keep-alive connections."""
    address = urlsplit(base)
    result = Probe()
    asks = (
        ("health", RawConnection(address.hostname, address.port), "/api/v1/health", {}),
        ("pull", RawConnection(address.hostname, address.port), pull, {"Authorization": device}),
    )
    try:
        for _ in range(requests):
            for what, connection, target, headers in asks:
                sent = time.perf_counter()
                try:
                    status, _, _ = await asyncio.wait_for(
                        connection.get(target, headers), ANSWER_TIMEOUT_S
                    )
                except (TimeoutError, OSError, asyncio.IncompleteReadError):
                    connection.close()
                    result.unanswered += 1
                    if result.unanswered >= GIVE_UP_AFTER:
                        return result
                    continue
                getattr(result, what).append(time.perf_counter() - sent)
                counts = result.statuses.setdefault(what, {})
                counts[status] = counts.get(status, 0) + 1
    finally:
        for _, connection, _, _ in asks:
            connection.close()
    return result


@dataclass
class Stalled:
    """A client that sent its headers and `{`, and what it got back, if anything."""

    writer: asyncio.StreamWriter
    watching: asyncio.Task

    @property
    def answered(self) -> bool:
        """Whether the server has answered (or closed) by now."""
        return self.watching.done()


async def stall(base: str, path: str, headers: dict[str, str]) -> Stalled:
    """Open one stalled POST and start watching for its answer."""
    address = urlsplit(base)
    reader, writer = await asyncio.open_connection(address.hostname, address.port)
    lines = "".join(f"{name}: {value}\r\n" for name, value in headers.items())
    writer.write(
        f"POST {path} HTTP/1.1\r\nHost: {address.netloc}\r\n"
        f"Content-Type: application/json\r\nContent-Length: 100\r\n{lines}\r\n{{".encode()
    )
    await writer.drain()
    return Stalled(writer, asyncio.ensure_future(_answer(reader, time.perf_counter())))


async def _answer(reader: asyncio.StreamReader, opened: float) -> tuple[int, float]:
    # The status the server answered (0: it closed without one) and when, from opening.
    try:
        line = await reader.readuntil(b"\r\n")
        status = int(line.split(b" ", 2)[1])
    except (asyncio.IncompleteReadError, OSError):
        status = 0
    return status, time.perf_counter() - opened


async def outcomes(stalled: list[Stalled], *, wait_s: float) -> str:
    """What the stalled clients got within `wait_s`, by status, with when; then close them."""
    await asyncio.wait([s.watching for s in stalled], timeout=wait_s)
    by_status: dict[int, list[float]] = {}
    left = 0
    for s in stalled:
        if s.watching.done():
            status, after = s.watching.result()
            by_status.setdefault(status, []).append(after)
        else:
            s.watching.cancel()
            left += 1
        s.writer.close()
    parts = [
        f"{len(times)} x {status or 'closed'} {min(times):.2f}-{max(times):.2f} s after opening"
        for status, times in sorted(by_status.items())
    ]
    if left:
        parts.append(f"{left} still unanswered after {wait_s:.0f} s (closed by the bench)")
    return ", ".join(parts)


async def probes(base: str, *, station: str, device: str, args: argparse.Namespace) -> bool:
    """The three probes; print them; tell whether the goal was met."""
    pull = f"/api/v1/stations/{station}/playlists/{local_today().isoformat()}"
    airings = f"/api/v1/stations/{station}/airings"
    bearer = f"Bearer {device}"
    n = args.stalled
    # Warm up: the day's body in the fast path's memory, the pool's connections open.
    await probe(base, pull=pull, device=bearer, requests=20)
    baseline = await probe(base, pull=pull, device=bearer, requests=args.requests)
    print("  " + baseline.line("baseline, nothing else open"))

    anonymous = await asyncio.gather(*(stall(base, airings, {}) for _ in range(n)))
    attacked = await probe(base, pull=pull, device=bearer, requests=args.requests)
    print("  " + attacked.line(f"{n} stalled POSTs without a token", baseline))
    print("    the stalled: " + await outcomes(anonymous, wait_s=args.body_timeout + 10))

    known = await asyncio.gather(
        *(stall(base, airings, {"Authorization": bearer}) for _ in range(n))
    )
    weak = await probe(base, pull=pull, device=bearer, requests=args.requests)
    still_open = sum(1 for s in known if not s.answered)
    print(
        "  "
        + weak.line(f"{n} stalled POSTs of a known device ({still_open} open at the end)", baseline)
    )
    print("    the stalled: " + await outcomes(known, wait_s=args.body_timeout + 10))

    slowest = max(attacked.slowest, weak.slowest)
    met = slowest < GOAL_S and still_open == n
    print(
        f"  slowest answer with stalled bodies open: {ms(slowest)}; goal (health and pull "
        f"under {GOAL_S:.0f} s with {n} stalled bodies open): {'met' if met else 'not met'}"
    )
    return met


def main() -> None:
    """Run and print the figures."""
    parser = argparse.ArgumentParser()
    parser.add_argument("--stalled", type=int, default=100)
    parser.add_argument("--requests", type=int, default=200)
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--body-timeout", type=int, default=20)
    parser.add_argument("--database-url", default="")
    args = parser.parse_args()
    with scratch_database(args.database_url) as place:
        today = local_today()
        build_tree(place.engine, communes=1, clusters=5, start=today)
        generate(place.engine, [today])
        [device] = make_devices(place.engine, per_station=1)
        place.engine.dispose()
        log = place.root / "serve.log"
        print(
            f"truyenthanh serve --workers {args.workers}, {place.engine.dialect.name}, "
            f"TRUYENTHANH_BODY_TIMEOUT_S={args.body_timeout}; {args.requests} health checks "
            f"and {args.requests} pulls per probe, one at a time"
        )
        with our_server(
            database_url=place.url,
            data_dir=place.data_dir,
            workers=args.workers,
            log=log,
            body_timeout_s=str(args.body_timeout),
        ) as base:
            asyncio.run(probes(base, station=device.station, device=device.token, args=args))
        print("  " + server_troubles(log))


if __name__ == "__main__":
    main()
