"""Dev-proxy benchmark: what ``ViteDevProxy`` costs on an API request and on a 1 MiB asset.

Everything runs under Granian with one worker and uvloop on CPU 0; wrk (one thread) on
CPU 1. The apps are in ``scripts/bench_apps/dev_proxy_app.py``:

- *direct*: the backend over RSGI (``GET /api/hello``), and the Vite stand-in over ASGI
  (``GET /assets/big.bin``, 1 MiB from memory);
- *dev()*: ``ViteDevProxy`` wrapping the backend in the same process (ASGI door): API
  requests go to the app, the asset is the app's 404 replayed to the Vite stand-in;
- *fastware dev*: the dev front process (``ViteDevProxy`` over a forwarder) in front of
  the backend process, as ``fastware dev`` runs it: one more HTTP hop for everything.

Reported: req/s, p99 and the ratio to the direct route (medians of the rounds). Usage:
``scripts/bench dev [--quick] [--rounds N] [--duration S] [--output FILE]``.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from pathlib import Path

from bench import (
    APPS_DIR,
    CLIENT_CPU,
    SERVER_CPU,
    BenchError,
    _parse_wrk,
    _version,
    free_port,
    http_request,
    run_wrk,
    wait_for_quiet,
)

API = "/api/hello"
ASSET = "/assets/big.bin"
ASSET_SIZE = 1024 * 1024


def start(
    target: str, interface: str, port: int, env: dict[str, str], log: Path
) -> subprocess.Popen[bytes]:
    command = [
        "taskset", "-c", SERVER_CPU,
        sys.executable, "-m", "granian",
        "--interface", interface,
        "--working-dir", str(APPS_DIR),
        "--host", "127.0.0.1",
        "--port", str(port),
        "--workers", "1",
        "--loop", "uvloop",
        "--no-access-log",
        "--log-level", "warning",
        target,
    ]  # fmt: skip
    with log.open("wb") as out:
        return subprocess.Popen(
            command,
            cwd=APPS_DIR,
            env={**os.environ, **env},
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )


def wait_answer(port: int, path: str, process: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise BenchError(f"{log.stem} exited: {log.read_text(errors='replace')[-2000:]}")
        with contextlib.suppress(OSError):
            status, _, _ = http_request(port, "GET", path, None, timeout=2.0)
            if status == 200:
                return
        time.sleep(0.1)
    raise BenchError(f"{log.stem} did not answer {path} on {port}")


@contextlib.contextmanager
def servers(directory: Path) -> Iterator[dict[str, int]]:
    ports = {name: free_port() for name in ("backend", "vite", "in_process", "front")}
    env = {"BENCH_VITE_PORT": str(ports["vite"]), "BENCH_BACKEND_PORT": str(ports["backend"])}
    plan = [
        ("backend", "dev_proxy_app:backend", "rsgi"),
        ("vite", "dev_proxy_app:upstream", "asgi"),
        ("in_process", "dev_proxy_app:in_process", "asgi"),
        ("front", "dev_proxy_app:front", "asgi"),
    ]
    started: list[subprocess.Popen[bytes]] = []
    try:
        for name, target, interface in plan:
            log = directory / f"{name}.log"
            process = start(target, interface, ports[name], env, log)
            started.append(process)
            wait_answer(ports[name], "/plaintext", process, log)
        for name in ("in_process", "front"):  # the routes under test answer correctly
            for path, size in ((API, 27), (ASSET, ASSET_SIZE)):
                status, _, body = http_request(ports[name], "GET", path, None, timeout=5.0)
                if status != 200 or len(body) != size:
                    raise BenchError(f"{name} {path}: status {status}, {len(body)} bytes")
        yield ports
    finally:
        for process in started:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, 15)
        for process in started:
            try:
                process.wait(15)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(process.pid, 9)
                process.wait()


ROWS = (
    ("API request", API, "direct (backend, RSGI)", "backend"),
    ("API request", API, "dev() proxy, in process", "in_process"),
    ("API request", API, "fastware dev front", "front"),
    ("1 MiB asset", ASSET, "direct (Vite stand-in)", "vite"),
    ("1 MiB asset", ASSET, "dev() proxy, in process", "in_process"),
    ("1 MiB asset", ASSET, "fastware dev front", "front"),
)


def run(args: argparse.Namespace) -> str:
    samples: dict[int, list[tuple[float, float]]] = {i: [] for i in range(len(ROWS))}
    with tempfile.TemporaryDirectory(prefix="fastware-bench-dev-") as tmp:
        for round_index in range(args.rounds):
            with servers(Path(tmp)) as ports:
                for index, (what, path, label, server) in enumerate(ROWS):
                    connections = args.connections if path == API else args.asset_connections
                    url = f"http://127.0.0.1:{ports[server]}{path}"
                    wait_for_quiet()
                    if args.warmup:
                        run_wrk(url, args.warmup, connections, None, latency=False)
                    output = run_wrk(url, args.duration, connections, None, latency=True)
                    _, rps, p99, non_2xx, errors = _parse_wrk(output)
                    if non_2xx or errors:
                        raise BenchError(f"{label} {path}: {non_2xx} non-2xx, {errors} errors")
                    samples[index].append((rps, p99))
                    print(
                        f"round {round_index + 1}/{args.rounds} {what:<12} {label:<26} "
                        f"{rps:>9,.0f} req/s  p99 {p99:7.2f} ms",
                        file=sys.stderr,
                    )
    medians = {
        i: (statistics.median(r for r, _ in s), statistics.median(p for _, p in s))
        for i, s in samples.items()
    }
    now = dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC")
    lines = [
        "## The dev proxy (`scripts/bench dev`)",
        "",
        f"- Date: {now}; {os.cpu_count()} CPUs, Python {platform.python_version()}, "
        f"Granian {_version('granian')}, h11 {_version('h11')}",
        f"- Method: Granian, 1 worker each, `--loop uvloop`, all on CPU {SERVER_CPU}; wrk 1 "
        f"thread on CPU {CLIENT_CPU}, {args.connections} connections for the API request and "
        f"{args.asset_connections} for the asset; {args.warmup} s warm-up + {args.duration} s "
        f"measured; {args.rounds} round(s), medians.",
        "",
        "| request | route | req/s | vs direct | p99 (ms) |",
        "|---|---|--:|--:|--:|",
    ]
    for index, (what, path, label, _) in enumerate(ROWS):
        direct = medians[0 if path == API else 3][0]
        rps, p99 = medians[index]
        lines.append(
            f"| {what} (`GET {path}`) | {label} | {rps:,.0f} | {rps / direct:.2f}x | {p99:.2f} |"
        )
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="scripts/bench dev", description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--duration", type=int, default=5)
    parser.add_argument("--warmup", type=int, default=1)
    parser.add_argument("--connections", type=int, default=50)
    parser.add_argument("--asset-connections", type=int, default=10)
    parser.add_argument("--quick", action="store_true", help="1 round x 2 s")
    parser.add_argument("--output", type=Path)
    args = parser.parse_args(sys.argv[1:] if argv is None else argv)
    if args.quick:
        args.rounds, args.duration = 1, 2
    try:
        report = run(args)
    except BenchError as exc:
        print(f"bench dev: error: {exc}", file=sys.stderr)
        return 1
    print(report)
    if args.output is not None:
        args.output.write_text(report + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
