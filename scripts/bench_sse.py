"""SSE benchmark: fan-out latency and memory with many clients, then a sustained run.

Granian serves ``tests-integration/apps/sse_bench_app.py`` with one worker and uvloop, pinned
to CPU 0; the clients run in one asyncio process pinned to CPU 1 (raw sockets, HTTP/1.1).

1. Fan-out: ``--clients`` streams are opened (10,000 by default). Each broadcast carries the
   server's wall clock; every client notes when the event arrived, so a broadcast's latency
   to a client is arrival minus broadcast time (one machine, one clock). Reported: p50, p99
   and the time until the last client had it, per broadcast, and the worker's RSS per
   client (RSS with the clients connected minus RSS before, divided by the clients).
2. Sustained: ``--sustained-clients`` streams (1,000) while the server broadcasts ``--rate``
   events per second (10) for ``--seconds`` (60). Every client checks that it received
   every event, in order, once: delivered versus sent.

Usage: ``scripts/bench sse [--quick] [--clients N] [--broadcasts N] [--sustained-clients N]
[--rate R] [--seconds S] [--output FILE]``. Not a test: it measures, and fails only when the
setup breaks. Stdlib only (uvloop in the client when installed).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import http.client
import json
import os
import platform
import re
import resource
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
APPS_DIR = ROOT / "tests-integration" / "apps"
TARGET = "sse_bench_app:app"
SERVER_CPU = "0"
CLIENT_CPU = "1"
TICK = re.compile(rb'event: tick\ndata: \{"n":(\d+),"t":(\d+)\}')


class BenchError(Exception):
    """The benchmark could not be run as set up."""


# -- the client process -----------------------------------------------------------------------


class _Connection:
    __slots__ = ("ended", "errors", "last", "received")

    def __init__(self) -> None:
        self.last = -1
        self.received = 0
        self.errors = 0  # an event out of order, repeated or missing
        self.ended = False


async def _client_main(host: str, port: int, count: int) -> None:
    """Open ``count`` streams, print READY, read until STOP arrives on stdin, print results."""
    loop = asyncio.get_running_loop()
    request = (
        f"GET /events HTTP/1.1\r\nHost: {host}:{port}\r\nAccept: text/event-stream\r\n\r\n"
    ).encode()
    latencies: dict[int, list[int]] = {}
    connections = [_Connection() for _ in range(count)]
    ready = 0
    all_ready = asyncio.Event()
    gate = asyncio.Semaphore(200)
    writers: list[asyncio.StreamWriter] = []

    async def connect(state: _Connection) -> asyncio.StreamReader | None:
        async with gate:
            try:
                async with asyncio.timeout(60):  # a stuck connection must not stall the run
                    reader, writer = await asyncio.open_connection(host, port, limit=1 << 20)
                    writers.append(writer)
                    writer.write(request)
                    await reader.readuntil(b"\r\n\r\n")
                    buffer = b""
                    while b"event: hello" not in buffer:
                        data = await reader.read(65536)
                        if not data:
                            return None
                        buffer += data
                    return reader
            except (OSError, TimeoutError, asyncio.IncompleteReadError):
                return None

    async def follow(state: _Connection) -> None:
        nonlocal ready
        reader = await connect(state)
        state.ended = reader is None
        ready += 1
        if ready == count:
            all_ready.set()
        if reader is None:
            return
        buffer = b""
        while True:
            try:
                data = await reader.read(65536)
            except OSError:
                data = b""
            if not data:
                state.ended = True
                return
            now = time.time_ns()
            buffer += data
            end = buffer.rfind(b"\n\n")
            if end < 0:
                continue
            complete, buffer = buffer[: end + 2], buffer[end + 2 :]
            for match in TICK.finditer(complete):
                number = int(match[1])
                if number != state.last + 1:
                    state.errors += 1
                state.last = number
                state.received += 1
                latencies.setdefault(number, []).append(now - int(match[2]))

    tasks = [loop.create_task(follow(state)) for state in connections]
    await all_ready.wait()
    print("READY", sum(not c.ended for c in connections), flush=True)
    await loop.run_in_executor(None, sys.stdin.readline)
    result = {
        "latencies": {str(n): values for n, values in latencies.items()},
        "received": [c.received for c in connections],
        "errors": sum(c.errors for c in connections),
        "ended": sum(c.ended for c in connections),
    }
    for task in tasks:
        task.cancel()
    for writer in writers:
        writer.transport.abort()
    await asyncio.gather(*tasks, return_exceptions=True)
    print("RESULT " + json.dumps(result), flush=True)


def run_client(host: str, port: int, count: int) -> None:
    """Entry point of the client process."""
    _raise_file_limit()
    try:
        import uvloop
    except ImportError:
        asyncio.run(_client_main(host, port, count))
    else:
        uvloop.run(_client_main(host, port, count))


# -- the driver -------------------------------------------------------------------------------


def _raise_file_limit() -> None:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _pinned(cpu: str, command: list[str]) -> list[str]:
    return ["taskset", "-c", cpu, *command] if shutil.which("taskset") else command


class Server:
    """Granian serving the bench app, one worker, on CPU 0."""

    def __init__(self, log_dir: Path, clients: int) -> None:
        self.port = _free_port()
        self.log = log_dir / "granian.log"
        command = _pinned(
            SERVER_CPU,
            [
                sys.executable, "-m", "granian",
                "--interface", "rsgi",
                "--working-dir", str(APPS_DIR),
                "--host", "127.0.0.1",
                "--port", str(self.port),
                "--workers", "1",
                "--loop", "uvloop",
                "--backlog", "4096",
                # Each SSE client is a request in flight; Granian's default backpressure
                # (backlog / workers) would stop accepting connections at 4096.
                "--backpressure", str(max(4096, 2 * clients)),
                "--no-ws",
                "--no-access-log",
                "--log-level", "warning",
                TARGET,
            ],
        )  # fmt: skip
        with self.log.open("wb") as output:
            self.process = subprocess.Popen(
                command,
                cwd=APPS_DIR,
                stdin=subprocess.DEVNULL,
                stdout=output,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        deadline = time.monotonic() + 60
        while True:
            if self.process.poll() is not None:
                raise BenchError(f"Granian exited: {self.log.read_text(errors='replace')}")
            with contextlib.suppress(OSError, http.client.HTTPException):
                self.state()
                break
            if time.monotonic() > deadline:
                raise BenchError("Granian did not answer within 60 s")
            time.sleep(0.1)

    def request(self, method: str, path: str) -> Any:
        connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
        try:
            connection.request(method, path)
            response = connection.getresponse()
            body = response.read()
            if response.status != 200:
                raise BenchError(f"{method} {path} answered {response.status}: {body!r}")
            return json.loads(body)
        finally:
            connection.close()

    def state(self) -> dict[str, Any]:
        state: dict[str, Any] = self.request("GET", "/")
        return state

    def worker_rss(self) -> int:
        """The worker's resident memory in bytes."""
        pid = self.state()["pid"]
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
        raise BenchError("no VmRSS for the worker")

    def wait_clients(self, count: int, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while self.state()["clients"] != count:
            if time.monotonic() > deadline:
                raise BenchError(f"expected {count} clients, the server has {self.state()}")
            time.sleep(0.2)

    def stop(self) -> None:
        if self.process.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(15)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait(10)


class Clients:
    """The client process holding ``count`` streams."""

    def __init__(self, server: Server, count: int) -> None:
        command = _pinned(
            CLIENT_CPU,
            [sys.executable, __file__, "--client", str(server.port), str(count)],
        )
        self.process = subprocess.Popen(
            command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
        )
        assert self.process.stdout is not None
        line = self.process.stdout.readline()
        if not line.startswith("READY"):
            raise BenchError(f"the client process failed: {line!r}")
        self.connected = int(line.split()[1])

    def finish(self) -> dict[str, Any]:
        assert self.process.stdin is not None
        assert self.process.stdout is not None
        self.process.stdin.write("STOP\n")
        self.process.stdin.flush()
        for line in self.process.stdout:
            if line.startswith("RESULT "):
                self.process.wait(30)
                result: dict[str, Any] = json.loads(line[7:])
                return result
        raise BenchError("the client process ended without a result")


def _ms(nanoseconds: float) -> float:
    return nanoseconds / 1e6


def _percentile(values: list[int], fraction: float) -> float:
    ordered = sorted(values)
    return float(ordered[min(len(ordered) - 1, int(fraction * len(ordered)))])


def fan_out(server: Server, clients: int, broadcasts: int) -> dict[str, Any]:
    """Phase 1: latency of one broadcast to ``clients`` streams, and RSS per client."""
    before = server.worker_rss()
    started = time.monotonic()
    group = Clients(server, clients)
    connect_time = time.monotonic() - started
    server.wait_clients(clients, 120)
    time.sleep(1.0)
    after = server.worker_rss()
    for _ in range(broadcasts):
        server.request("POST", "/broadcast")
        time.sleep(max(1.0, clients / 5000))
    result = group.finish()
    rows = []
    for values in result["latencies"].values():
        rows.append(
            {
                "reached": len(values),
                "p50_ms": _ms(_percentile(values, 0.50)),
                "p99_ms": _ms(_percentile(values, 0.99)),
                "all_ms": _ms(max(values)),
            }
        )
    server.wait_clients(0, 60)
    return {
        "clients": clients,
        "connected": group.connected,
        "connect_s": connect_time,
        "rss_before": before,
        "rss_after": after,
        "rss_per_client": (after - before) / clients,
        "broadcasts": rows,
        "errors": result["errors"],
        "ended": result["ended"],
    }


def sustained(server: Server, clients: int, rate: float, seconds: int) -> dict[str, Any]:
    """Phase 2: ``clients`` streams, ``rate`` events/s for ``seconds``: delivered vs sent."""
    group = Clients(server, clients)
    server.wait_clients(clients, 120)
    count = int(rate * seconds)
    server.request("POST", f"/ticker?rate={rate}&count={count}")
    deadline = time.monotonic() + seconds + 30
    while not server.state()["ticker_done"]:
        if time.monotonic() > deadline:
            raise BenchError("the ticker did not finish")
        time.sleep(0.5)
    time.sleep(2.0)
    sent = server.state()["ticker_sent"]
    result = group.finish()
    every = [v for values in result["latencies"].values() for v in values]
    server.wait_clients(0, 60)
    return {
        "clients": clients,
        "rate": rate,
        "seconds": seconds,
        "sent": sent,
        "expected": sent * clients,
        "delivered": sum(result["received"]),
        "complete_clients": sum(r == sent for r in result["received"]),
        "errors": result["errors"],
        "ended": result["ended"],
        "p50_ms": _ms(_percentile(every, 0.5)) if every else None,
        "p99_ms": _ms(_percentile(every, 0.99)) if every else None,
    }


def report(fan: dict[str, Any], steady: dict[str, Any]) -> str:
    rows = fan["broadcasts"]
    median = statistics.median
    lines = [
        f"## SSE fan-out ({time.strftime('%Y-%m-%d', time.gmtime())})",
        "",
        f"- Machine: {platform.machine()}, {os.cpu_count()} CPUs, Python "
        f"{platform.python_version()}; Granian, 1 worker, `--loop uvloop`, RSGI, pinned to "
        f"CPU {SERVER_CPU}; one asyncio client process (uvloop) pinned to CPU {CLIENT_CPU}.",
        f"- {fan['clients']:,} concurrent clients ({fan['connected']:,} connected in "
        f"{fan['connect_s']:.1f} s), {len(rows)} broadcasts, in-memory broker.",
        "",
        "| broadcast | clients reached | p50 | p99 | last client |",
        "|---|---|---|---|---|",
    ]
    for number, row in enumerate(rows, 1):
        lines.append(
            f"| {number} | {row['reached']:,} | {row['p50_ms']:.1f} ms | {row['p99_ms']:.1f} ms "
            f"| {row['all_ms']:.1f} ms |"
        )
    if rows:
        lines.append(
            f"| median | | {median(r['p50_ms'] for r in rows):.1f} ms "
            f"| {median(r['p99_ms'] for r in rows):.1f} ms "
            f"| {median(r['all_ms'] for r in rows):.1f} ms |"
        )
    lines += [
        "",
        f"- Worker RSS: {fan['rss_before'] / 2**20:.1f} MiB before, "
        f"{fan['rss_after'] / 2**20:.1f} MiB with the clients: "
        f"**{fan['rss_per_client'] / 1024:.1f} KiB per client** (connection, request, "
        "stream task and queue included).",
        f"- Order errors: {fan['errors']}; streams ended early: {fan['ended']}.",
        "",
        f"### Sustained: {steady['clients']:,} clients, {steady['rate']:g} events/s for "
        f"{steady['seconds']} s",
        "",
        f"- Sent {steady['sent']:,} events; expected deliveries {steady['expected']:,}; "
        f"**delivered {steady['delivered']:,}** "
        f"({steady['complete_clients']:,} of {steady['clients']:,} clients got every event).",
        f"- Events out of order, repeated or missing: {steady['errors']}; streams ended "
        f"early: {steady['ended']}.",
    ]
    if steady["p50_ms"] is not None:
        lines.append(
            f"- Latency per delivery: p50 {steady['p50_ms']:.2f} ms, p99 {steady['p99_ms']:.2f} ms."
        )
    return "\n".join(lines) + "\n"


def parse_args(argv: Sequence[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="scripts/bench sse", description=__doc__.split("\n")[0])
    parser.add_argument("--clients", type=int, default=10_000, help="fan-out clients (10000)")
    parser.add_argument("--broadcasts", type=int, default=5, help="broadcasts measured (5)")
    parser.add_argument("--sustained-clients", type=int, default=1000, help="clients (1000)")
    parser.add_argument("--rate", type=float, default=10.0, help="events per second (10)")
    parser.add_argument("--seconds", type=int, default=60, help="sustained run length (60)")
    parser.add_argument("--quick", action="store_true", help="1000 clients, a 10 s run")
    parser.add_argument("--output", type=Path, help="also write the Markdown report here")
    args = parser.parse_args(argv)
    if args.quick:
        args.clients, args.broadcasts = 1000, 3
        args.sustained_clients, args.seconds = 200, 10
    return args


def main(argv: Sequence[str]) -> int:
    if len(argv) == 3 and argv[0] == "--client":
        run_client("127.0.0.1", int(argv[1]), int(argv[2]))
        return 0
    args = parse_args(argv)
    _raise_file_limit()  # Granian inherits it
    with tempfile.TemporaryDirectory(prefix="bench-sse-") as tmp:
        server = Server(Path(tmp), max(args.clients, args.sustained_clients))
        try:
            print(f"fan-out: {args.clients} clients ...", file=sys.stderr, flush=True)
            fan = fan_out(server, args.clients, args.broadcasts)
            print(
                f"sustained: {args.sustained_clients} clients, {args.rate} events/s, "
                f"{args.seconds} s ...",
                file=sys.stderr,
                flush=True,
            )
            steady = sustained(server, args.sustained_clients, args.rate, args.seconds)
        except BenchError as exc:
            print(f"bench sse: {exc}", file=sys.stderr)
            return 1
        finally:
            server.stop()
    text = report(fan, steady)
    print(text)
    if args.output:
        args.output.write_text(text)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
