"""Count the CPU instructions the framework spends per request, under valgrind's callgrind.

Wall-clock benchmarks on a shared 2-core machine vary by 5-10 % between runs; instruction
counts do not. This drives one of the ``scripts/bench_apps`` apps in process, through either
door, with minimal doubles of the server: one asyncio task awaits the requests in turn, so a
request runs inside a task as under Granian but never waits for the loop. It prints the
instructions per request: the count over 2N requests minus the count over N, divided by N,
so that start-up, import and compile costs cancel out.

Usage (from the repository root)::

    uv run python scripts/count_instructions.py [--door rsgi|asgi] [--endpoint json]
        [--env BENCH_STACK=default] [--requests 2000]

The script re-runs itself under ``valgrind --tool=callgrind`` twice. It is a development tool:
it measures what a change does to the framework's own Python, not what a client sees (that
is ``scripts/bench``).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import re
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
ENDPOINTS: dict[str, tuple[str, str, bytes]] = {
    "plaintext": ("GET", "/plaintext", b""),
    "json": ("GET", "/json", b""),
    "users": ("GET", "/users/17", b""),
    "echo": ("POST", "/echo", b'{"name":"widget","price":9.5,"tags":["a","b","c"]}'),
}


class _RSGIHeaders(dict[str, str]):
    """Granian's RSGIHeaders: a lower-case mapping with ``get_all``."""

    def get_all(self, key: str) -> list[str]:
        value = self.get(key)
        return [] if value is None else [value]


class _RSGIScope:
    __slots__ = (
        "authority",
        "client",
        "headers",
        "http_version",
        "method",
        "path",
        "proto",
        "query_string",
        "rsgi_version",
        "scheme",
        "server",
    )

    def __init__(self, method: str, path: str, body: bytes) -> None:
        headers = {"host": "127.0.0.1:8000", "user-agent": "wrk", "accept": "*/*"}
        if body:
            headers["content-length"] = str(len(body))
            headers["content-type"] = "application/json"
        self.proto = "http"
        self.http_version = "1.1"
        self.rsgi_version = "1.5"
        self.scheme = "http"
        self.method = method
        self.path = path
        self.query_string = ""
        self.authority = None
        self.client = "127.0.0.1:50000"
        self.server = "127.0.0.1:8000"
        self.headers = _RSGIHeaders(headers)


class _RSGIProtocol:
    __slots__ = ("body", "status")

    def __init__(self, body: bytes) -> None:
        self.body = body
        self.status = 0

    async def __call__(self) -> bytes:
        return self.body

    def response_bytes(self, status: int, headers: Any, body: bytes) -> None:
        self.status = status

    def response_str(self, status: int, headers: Any, body: str) -> None:
        self.status = status

    def response_empty(self, status: int, headers: Any) -> None:
        self.status = status


async def _run(app: Any, door: str, endpoint: str, count: int) -> None:
    method, path, body = ENDPOINTS[endpoint]
    if door == "rsgi":
        scope = _RSGIScope(method, path, body)
        protocol = _RSGIProtocol(body)
        for _ in range(count):
            await app.__rsgi__(scope, protocol)
        assert protocol.status == 200, protocol.status
        return
    raw_headers = [(b"host", b"127.0.0.1:8000"), (b"user-agent", b"wrk"), (b"accept", b"*/*")]
    if body:
        raw_headers += [
            (b"content-length", str(len(body)).encode()),
            (b"content-type", b"application/json"),
        ]
    message = {"type": "http.request", "body": body, "more_body": False}
    sent: list[int] = []

    async def receive() -> dict[str, Any]:
        return message

    async def send(event: dict[str, Any]) -> None:
        if event["type"] == "http.response.start":
            sent.append(event["status"])

    for _ in range(count):
        asgi_scope: dict[str, Any] = {
            "type": "http",
            "asgi": {"version": "3.0", "spec_version": "2.4"},
            "http_version": "1.1",
            "server": ("127.0.0.1", 8000),
            "client": ("127.0.0.1", 50000),
            "scheme": "http",
            "method": method,
            "root_path": "",
            "path": path,
            "raw_path": path.encode(),
            "query_string": b"",
            "headers": raw_headers,
            "state": {},
        }
        await app(asgi_scope, receive, send)
    assert sent[-1] == 200, sent[-1]


def _child(args: argparse.Namespace) -> None:
    sys.path.insert(0, str(ROOT / "scripts" / "bench_apps"))
    import logging

    logging.disable(logging.CRITICAL)
    module = __import__(args.module)
    app = module.app
    # Compile and warm caches, and fill RequestTimingMiddleware's history (10,000 records):
    # a server under load has a full one seconds after it starts, and appending to a growing
    # one costs about 1,300 instructions more per request.
    asyncio.run(_run(app, args.door, args.endpoint, 10_050))
    asyncio.run(_run(app, args.door, args.endpoint, args.requests))


def _callgrind_total(argv: list[str], env: dict[str, str]) -> int:
    with tempfile.TemporaryDirectory() as tmp:
        out = os.path.join(tmp, "callgrind.out")
        subprocess.run(
            ["valgrind", "--tool=callgrind", f"--callgrind-out-file={out}", *argv],
            env=env,
            check=True,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        text = Path(out).read_text()
    match = re.search(r"^summary:\s+(\d+)", text, re.MULTILINE) or re.search(
        r"^totals:\s+(\d+)", text, re.MULTILINE
    )
    if match is None:
        raise SystemExit("count_instructions: callgrind wrote no totals")
    return int(match.group(1))


def main() -> None:
    """Parse the arguments and print instructions per request."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--door", choices=("rsgi", "asgi"), default="rsgi")
    parser.add_argument("--endpoint", choices=sorted(ENDPOINTS), default="json")
    parser.add_argument("--module", default="fastware_app", help="an app in scripts/bench_apps")
    parser.add_argument("--env", action="append", default=[], help="NAME=VALUE for the app")
    parser.add_argument("--requests", type=int, default=2000)
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        _child(args)
        return
    env = dict(os.environ, PYTHONHASHSEED="0")
    for item in args.env:
        name, _, value = item.partition("=")
        env[name] = value
    base = [sys.executable, __file__, "--child", "--door", args.door, "--endpoint", args.endpoint]
    base += ["--module", args.module]
    low = _callgrind_total([*base, "--requests", str(args.requests)], env)
    high = _callgrind_total([*base, "--requests", str(2 * args.requests)], env)
    per_request = (high - low) / args.requests
    label = " ".join(args.env) or "lean"
    print(f"{args.module} {args.door} {args.endpoint} [{label}]: {per_request:,.0f} instructions")


if __name__ == "__main__":
    main()
