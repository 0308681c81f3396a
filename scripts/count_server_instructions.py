"""Count the CPU instructions a real Granian worker spends per request, under callgrind.

``scripts/bench`` measures requests per second, which on a shared machine moves by 5-15 %
between runs of the same code; ``scripts/count_instructions.py`` counts only the framework's
Python, in process. This counts everything one Granian worker executes for a request (the
Rust server, the event loop, the interface glue and the app) and nothing else, so apps can be
compared the way the bench compares them, as ratios to raw ASGI, without the noise.

How: each app of ``scripts/bench.py`` is started as the bench starts it (Granian, 1 worker,
uvloop, no access log) under ``valgrind --tool=callgrind``. For each endpoint the script
sends warm-up requests (10,000 before the first endpoint, to reach the steady state of a
server under load), zeroes the worker's counters (``callgrind_control --zero``), sends
``--requests`` requests one after another on one keep-alive connection, dumps the counters
and divides. Instruction counts are not time (a cache miss costs more than an add), but the
same work gives the same count, within a fraction of a percent.

Usage (from the repository root)::

    uv run python scripts/count_server_instructions.py [--only raw_asgi,fastware_rsgi]
        [--endpoint plaintext,json] [--requests 2000]

Needs valgrind (``apt-get install valgrind``). Each app takes about half a minute to start
under valgrind; two run at a time.
"""

from __future__ import annotations

import argparse
import concurrent.futures
import http.client
import os
import platform
import re
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import bench  # the apps and endpoints of scripts/bench.py

DEFAULT_APPS = (
    "raw_asgi",
    "raw_rsgi",
    "starlette",
    "fastware_rsgi",
    "fastware_asgi",
    "fastware_rsgi_stack",
    "fastware_asgi_stack",
)
DEFAULT_ENDPOINTS = ("plaintext", "json", "users", "echo")
WARM_UP = 300
FILL = 10_000
"""Requests sent before the first count: RequestTimingMiddleware's history keeps the last
10,000 records, and a server under load has a full one a few seconds after it starts (a
record appended to a full history reuses the memory of the one it drops, and costs about
1,300 instructions less than one appended while it grows)."""


def _send(port: int, endpoint: bench.Endpoint, count: int) -> None:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
    headers = dict(endpoint.headers)
    if endpoint.request_body is not None:
        headers["Content-Type"] = "application/json"
    try:
        for _ in range(count):
            connection.request(
                endpoint.method, endpoint.path, body=endpoint.request_body, headers=headers
            )
            response = connection.getresponse()
            body = response.read()
            if response.status != endpoint.status or body != endpoint.expected_body:
                raise SystemExit(
                    f"count_server_instructions: {endpoint.method} {endpoint.path} answered "
                    f"{response.status} {body[:80]!r}"
                )
    finally:
        connection.close()


def _wait_ready(port: int, process: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise SystemExit(f"count_server_instructions: the server exited; see {log}")
        try:
            connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
            connection.request("GET", "/__not_there__")
            connection.getresponse().read()
            connection.close()
            return
        except OSError:
            time.sleep(1)
    raise SystemExit(f"count_server_instructions: the server did not answer; see {log}")


def _worker_pid(main_pid: int) -> int:
    # Granian's main process supervises; the one worker is its only Python child.
    children = [pid for pid in bench.process_tree(main_pid) if pid != main_pid]
    if len(children) != 1:
        raise SystemExit(f"count_server_instructions: expected one worker, found {children}")
    return children[0]


def _dump_total(out_dir: Path, pid: int, before: set[Path]) -> int:
    subprocess.run(["callgrind_control", "--dump", str(pid)], check=True, capture_output=True)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        new = [p for p in out_dir.glob(f"cg.{pid}.*") if p not in before and p.stat().st_size]
        for path in new:
            match = re.search(r"^summary:\s+(\d+)", path.read_text(), re.MULTILINE)
            if match:
                before.add(path)
                return int(match.group(1))
        time.sleep(0.2)
    raise SystemExit("count_server_instructions: callgrind wrote no dump")


def measure_app(
    app: bench.App, endpoints: Sequence[bench.Endpoint], requests: int
) -> dict[str, float]:
    """Instructions per request of ``app`` on each of ``endpoints``."""
    with tempfile.TemporaryDirectory(prefix=f"cg-{app.name}-") as tmp:
        out_dir = Path(tmp)
        port = bench.free_port()
        log = out_dir / "server.log"
        command = [
            # setarch -R: the same addresses in every run (what ASLR changes, dict and set
            # orders of objects hashed by address, moves the count by 1-2 %)
            "setarch", platform.machine(), "-R",
            "valgrind", "--tool=callgrind", "--trace-children=yes",
            f"--callgrind-out-file={out_dir}/cg.%p",
            sys.executable, "-m", "granian",
            "--interface", app.interface,
            "--working-dir", str(bench.APPS_DIR),
            "--host", "127.0.0.1", "--port", str(port),
            "--workers", "1", "--loop", "uvloop", "--no-ws", "--no-access-log",
            "--log-level", "warning",
            app.target,
        ]  # fmt: skip
        env = {**os.environ, **app.env, "PYTHONHASHSEED": "0"}
        env.setdefault("BENCH_DECOYS", "100")
        with log.open("wb") as log_file:
            process = subprocess.Popen(
                command,
                cwd=bench.APPS_DIR,
                env=env,
                stdout=log_file,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        try:
            _wait_ready(port, process, log)
            worker = _worker_pid(process.pid)
            seen: set[Path] = set()
            counts: dict[str, float] = {}
            if endpoints:
                _send(port, endpoints[0], FILL)
            for endpoint in endpoints:
                _send(port, endpoint, WARM_UP)
                subprocess.run(
                    ["callgrind_control", "--zero", str(worker)], check=True, capture_output=True
                )
                _send(port, endpoint, requests)
                counts[endpoint.name] = _dump_total(out_dir, worker, seen) / requests
            return counts
        finally:
            os.killpg(process.pid, 15)
            try:
                process.wait(timeout=120)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, 9)
                process.wait()


def main(argv: Sequence[str] | None = None) -> int:
    """Measure and print a table: instructions per request and the ratio to raw ASGI."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--only", default=",".join(DEFAULT_APPS), help="apps of scripts/bench")
    parser.add_argument("--endpoint", default=",".join(DEFAULT_ENDPOINTS))
    parser.add_argument("--requests", type=int, default=2000)
    parser.add_argument("--jobs", type=int, default=2, help="apps measured at once")
    args = parser.parse_args(argv)
    for tool in ("valgrind", "callgrind_control"):
        if shutil.which(tool) is None:
            print(f"count_server_instructions: {tool} is required (apt-get install valgrind)")
            return 1
    by_name = {app.name: app for app in bench.APPS}
    names = [name for name in args.only.split(",") if name]
    unknown = [name for name in names if name not in by_name]
    if unknown:
        print(f"count_server_instructions: unknown app {unknown[0]!r} (see scripts/bench.py)")
        return 2
    endpoints = [bench.ENDPOINTS_BY_NAME[name] for name in args.endpoint.split(",") if name]
    apps = [by_name[name] for name in names]
    with concurrent.futures.ThreadPoolExecutor(max_workers=args.jobs) as pool:
        futures = {
            app.name: pool.submit(
                measure_app, app, [e for e in endpoints if e.name in app.endpoints], args.requests
            )
            for app in apps
        }
        results = {name: future.result() for name, future in futures.items()}
    baseline = results.get(bench.BASELINE, {})
    print(f"Instructions per request in the Granian worker ({args.requests} requests each)")
    print("| app | " + " | ".join(e.name for e in endpoints) + " |")
    print("|---|" + "--:|" * len(endpoints))
    for app in apps:
        cells = []
        for endpoint in endpoints:
            count = results[app.name].get(endpoint.name)
            base = baseline.get(endpoint.name)
            if count is None:
                cells.append("")
            elif base:
                # like the bench's "vs raw ASGI": above 1.00x means less work than raw ASGI
                cells.append(f"{count:,.0f} ({base / count:.2f}x)")
            else:
                cells.append(f"{count:,.0f}")
        print(f"| {app.label} | " + " | ".join(cells) + " |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
