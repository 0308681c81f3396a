"""Benchmark driver: fastware side by side with raw ASGI, raw RSGI and Starlette under Granian.

Every app runs under Granian with one worker and uvloop, pinned to CPU 0; wrk (one thread) runs
on CPU 1. Measurements are interleaved: each round starts every app's server, then for each
endpoint runs wrk against each app in turn (a short warm-up, then the measured run), and finally
stops the servers. Reported figures are medians across rounds. Before anything is measured, every
app's answer on every endpoint is checked against the expected status, media type and body, and
the run fails loudly on a difference.

Use ``scripts/bench`` (which syncs the environment first); ``scripts/bench --help`` for flags.
Stdlib only: the driver must not depend on what it measures.
"""

from __future__ import annotations

import argparse
import base64
import contextlib
import datetime as dt
import hashlib
import hmac
import http.client
import json
import os
import platform
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
APPS_DIR = ROOT / "scripts" / "bench_apps"
SERVER_CPU = "0"
CLIENT_CPU = "1"
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")
BASELINE = "raw_asgi"
READY_TIMEOUT = 60.0


@dataclass(frozen=True, slots=True)
class Endpoint:
    """One benchmarked request and the answer every app must give to it."""

    name: str
    method: str
    path: str
    expected_body: bytes
    media_type: str
    request_body: bytes | None = None
    status: int = 200
    headers: tuple[tuple[str, str], ...] = ()


ECHO_BODY = b'{"name":"widget","price":9.5,"tags":["a","b"]}'
TYPED_PATH = "/shops/42/items?limit=5&sort=price"
PLACED_BODY = (
    b'{"shop_id":42,"limit":5,"sort":"price","name":"widget","price":9.5,"tags":["a","b"]}'
)


# The HS256 secret scripts/bench_apps/fastware_app.py verifies with (BENCH_AUTH=1).
BENCH_JWT_SECRET = b"bench-secret-0123456789-abcdefghijklmnop"


def _bench_token() -> str:
    """A valid HS256 JWT for the /authed endpoint, made with the standard library only (the
    driver must not import what it measures)."""

    def b64(data: bytes) -> str:
        return base64.urlsafe_b64encode(data).rstrip(b"=").decode()

    now = int(time.time())
    header = b64(json.dumps({"alg": "HS256", "typ": "JWT"}, separators=(",", ":")).encode())
    claims = {"sub": "bench", "role": "user", "iat": now, "exp": now + 86400, "jti": "bench"}
    payload = b64(json.dumps(claims, separators=(",", ":")).encode())
    signature = hmac.new(BENCH_JWT_SECRET, f"{header}.{payload}".encode(), hashlib.sha256)
    return f"{header}.{payload}.{b64(signature.digest())}"


UPLOAD_BOUNDARY = "----fwbench7MA4YWxkTrZu0gW"
UPLOAD_SIZE = 1024 * 1024


def _upload_body() -> bytes:
    """A browser-like multipart form: a text field and a 1 MiB file (ASCII, so that the wrk
    script can carry it)."""
    content = (b"0123456789abcdef" * (UPLOAD_SIZE // 16))[:UPLOAD_SIZE]
    return (
        (
            f"--{UPLOAD_BOUNDARY}\r\n"
            'Content-Disposition: form-data; name="note"\r\n\r\n'
            "hello\r\n"
            f"--{UPLOAD_BOUNDARY}\r\n"
            'Content-Disposition: form-data; name="file"; filename="data.bin"\r\n'
            "Content-Type: application/octet-stream\r\n\r\n"
        ).encode()
        + content
        + f"\r\n--{UPLOAD_BOUNDARY}--\r\n".encode()
    )


def _big_body() -> bytes:
    items = [{"id": i, "name": f"item-{i}", "active": True} for i in range(500)]
    return json.dumps(items, separators=(",", ":")).encode()


ENDPOINTS: tuple[Endpoint, ...] = (
    Endpoint("plaintext", "GET", "/plaintext", b"Hello, World!", "text/plain"),
    Endpoint("json", "GET", "/json", b'{"message":"Hello, World!"}', "application/json"),
    Endpoint("users", "GET", "/users/42", b'{"id":42,"name":"user"}', "application/json"),
    Endpoint("echo", "POST", "/echo", ECHO_BODY, "application/json", ECHO_BODY),
    Endpoint("big", "GET", "/big", _big_body(), "application/json"),
    # The /json answer from a route with three plain dependencies (fastware only).
    Endpoint("deps", "GET", "/deps", b'{"message":"Hello, World!"}', "application/json"),
    # A handler that raises: 500, and a row with its traceback in the error log.
    Endpoint(
        "raise",
        "GET",
        "/raise",
        b'{"detail":"Internal server error"}',
        "application/json",
        status=500,
    ),
    # The /json answer from a route gated on a feature flag that is on (fastware only).
    Endpoint("gated", "GET", "/gated", b'{"message":"Hello, World!"}', "application/json"),
    # The /json answer behind a bearer JWT verified per request (fastware-auth).
    Endpoint(
        "authed",
        "GET",
        "/authed",
        b'{"message":"Hello, World!"}',
        "application/json",
        headers=(("Authorization", f"Bearer {_bench_token()}"),),
    ),
    # The /json answer behind an in-memory @rate_limit that never refuses (fastware-auth).
    Endpoint("limited", "GET", "/limited", b'{"message":"Hello, World!"}', "application/json"),
    # A 1 MiB multipart upload: the form parsed, the file read, its name and size answered.
    Endpoint(
        "upload",
        "POST",
        "/upload",
        f'{{"filename":"data.bin","size":{UPLOAD_SIZE}}}'.encode(),
        "application/json",
        _upload_body(),
        headers=(("Content-Type", f"multipart/form-data; boundary={UPLOAD_BOUNDARY}"),),
    ),
    # A typed route: a path int, two query values and a Struct body, answered as a Struct.
    Endpoint("typed", "POST", TYPED_PATH, PLACED_BODY, "application/json", ECHO_BODY),
    # The same route written by hand (request.json_as, request.query) in fastware.
    Endpoint(
        "typed_manual", "POST", "/manual" + TYPED_PATH, PLACED_BODY, "application/json", ECHO_BODY
    ),
)
BASE_ENDPOINTS = ("plaintext", "json", "users", "echo", "big")
ENDPOINTS_BY_NAME = {endpoint.name: endpoint for endpoint in ENDPOINTS}


@dataclass(frozen=True, slots=True)
class App:
    """One server configuration under test."""

    name: str
    label: str
    interface: str
    target: str
    env: dict[str, str] = field(default_factory=dict)
    endpoints: tuple[str, ...] = BASE_ENDPOINTS


TYPED_ENDPOINTS = ("typed", "typed_manual")

APPS: tuple[App, ...] = (
    App(
        "raw_asgi",
        "raw ASGI",
        "asgi",
        "raw_asgi:app",
        endpoints=(*BASE_ENDPOINTS, *TYPED_ENDPOINTS, "upload"),
    ),
    App("raw_rsgi", "raw RSGI", "rsgi", "raw_rsgi:app"),
    App(
        "starlette", "Starlette", "asgi", "starlette_app:app", endpoints=(*BASE_ENDPOINTS, "upload")
    ),
    App("fastapi", "FastAPI", "asgi", "fastapi_app:app", endpoints=("typed",)),
    App("litestar", "Litestar", "asgi", "litestar_app:app", endpoints=("typed",)),
    App("fastapi_forms", "FastAPI", "asgi", "fastapi_forms_app:app", endpoints=("upload",)),
    App("litestar_forms", "Litestar", "asgi", "litestar_forms_app:app", endpoints=("upload",)),
    App(
        "fastware_rsgi",
        "fastware (RSGI)",
        "rsgi",
        "fastware_app:app",
        endpoints=(*BASE_ENDPOINTS, *TYPED_ENDPOINTS, "upload"),
    ),
    App(
        "fastware_asgi",
        "fastware (ASGI)",
        "asgi",
        "fastware_app:app",
        endpoints=(*BASE_ENDPOINTS, *TYPED_ENDPOINTS, "upload"),
    ),
    App(
        "fastware_rsgi_stack",
        "fastware (RSGI), default middleware",
        "rsgi",
        "fastware_app:app",
        {"BENCH_STACK": "default"},
    ),
    App(
        "fastware_asgi_stack",
        "fastware (ASGI), default middleware",
        "asgi",
        "fastware_app:app",
        {"BENCH_STACK": "default"},
    ),
    App(
        "fastware_rsgi_di",
        "fastware (RSGI), fastware.create_app with DI",
        "rsgi",
        "fastware_app:app",
        {"BENCH_DI": "1"},
        ("json", "deps"),
    ),
    App(
        "fastware_asgi_di",
        "fastware (ASGI), fastware.create_app with DI",
        "asgi",
        "fastware_app:app",
        {"BENCH_DI": "1"},
        ("json", "deps"),
    ),
    App(
        "fastware_rsgi_errorlog",
        "fastware (RSGI), fastware.create_app with its error log",
        "rsgi",
        "fastware_app:app",
        {"BENCH_ERRORLOG": "1"},
        ("json", "raise"),
    ),
    App(
        "fastware_asgi_errorlog",
        "fastware (ASGI), fastware.create_app with its error log",
        "asgi",
        "fastware_app:app",
        {"BENCH_ERRORLOG": "1"},
        ("json", "raise"),
    ),
    App(
        "fastware_rsgi_flags",
        "fastware (RSGI), features=FeatureFlags",
        "rsgi",
        "fastware_app:app",
        {"BENCH_FLAGS": "1"},
        ("json", "gated"),
    ),
    App(
        "fastware_asgi_flags",
        "fastware (ASGI), features=FeatureFlags",
        "asgi",
        "fastware_app:app",
        {"BENCH_FLAGS": "1"},
        ("json", "gated"),
    ),
    App(
        "fastware_rsgi_auth",
        "fastware (RSGI), fastware.create_app with auth",
        "rsgi",
        "fastware_app:app",
        {"BENCH_AUTH": "1"},
        ("json", "authed", "limited"),
    ),
    App(
        "fastware_asgi_auth",
        "fastware (ASGI), fastware.create_app with auth",
        "asgi",
        "fastware_app:app",
        {"BENCH_AUTH": "1"},
        ("json", "authed", "limited"),
    ),
    App(
        "fastware_rsgi_decoys10",
        "fastware (RSGI), 10 decoy routes",
        "rsgi",
        "fastware_app:app",
        {"BENCH_DECOYS": "10"},
        ("users",),
    ),
    App(
        "fastware_rsgi_decoys1000",
        "fastware (RSGI), 1000 decoy routes",
        "rsgi",
        "fastware_app:app",
        {"BENCH_DECOYS": "1000"},
        ("users",),
    ),
)
APPS_BY_NAME = {app.name: app for app in APPS}


@dataclass(slots=True)
class Sample:
    """One wrk run against one (app, endpoint)."""

    requests: int
    rps: float
    p99_ms: float
    cpu_us_per_request: float
    core_busy: float
    non_2xx: int
    socket_errors: int


@dataclass(slots=True)
class Server:
    """A running Granian process tree serving one app."""

    app: App
    port: int
    process: subprocess.Popen[bytes]
    log_path: Path

    @property
    def pid(self) -> int:
        return self.process.pid


class BenchError(RuntimeError):
    """The benchmark cannot produce trustworthy numbers (an app failed or answered wrongly)."""


# -- processes -------------------------------------------------------------------------------


def _proc_stat_fields(pid: int) -> list[str]:
    raw = Path(f"/proc/{pid}/stat").read_text()
    # The command name may contain spaces and parentheses: split after its closing one.
    return raw[raw.rindex(")") + 2 :].split()


def process_tree(pid: int) -> list[int]:
    """``pid`` and all its descendants, found by scanning /proc for parent links."""
    children: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            parent = int(_proc_stat_fields(int(entry))[1])
        except (OSError, ValueError, IndexError):
            continue
        children.setdefault(parent, []).append(int(entry))
    tree = [pid]
    index = 0
    while index < len(tree):
        tree.extend(children.get(tree[index], ()))
        index += 1
    return tree


def tree_cpu_seconds(pids: Sequence[int]) -> float:
    """utime + stime of the given processes (each already sums its threads), in seconds."""
    ticks = 0
    for pid in pids:
        try:
            fields = _proc_stat_fields(pid)
        except OSError:
            continue
        ticks += int(fields[11]) + int(fields[12])
    return ticks / CLOCK_TICKS


def peak_rss_mib(pids: Sequence[int]) -> float:
    """The largest VmHWM among ``pids``, in MiB."""
    peak_kib = 0
    for pid in pids:
        try:
            status = Path(f"/proc/{pid}/status").read_text()
        except OSError:
            continue
        match = re.search(r"^VmHWM:\s+(\d+) kB", status, re.MULTILINE)
        if match:
            peak_kib = max(peak_kib, int(match.group(1)))
    return peak_kib / 1024


def free_port() -> int:
    """A TCP port that nothing listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def start_server(app: App, log_dir: Path) -> Server:
    """Start Granian for ``app`` on CPU 0; does not wait for it to answer."""
    port = free_port()
    log_path = log_dir / f"{app.name}.log"
    command = [
        "taskset", "-c", SERVER_CPU,
        sys.executable, "-m", "granian",
        "--interface", app.interface,
        "--working-dir", str(APPS_DIR),
        "--host", "127.0.0.1",
        "--port", str(port),
        "--workers", "1",
        "--loop", "uvloop",
        "--no-ws",
        "--no-access-log",
        "--log-level", "warning",
        app.target,
    ]  # fmt: skip
    env = {**os.environ, **app.env}
    env.setdefault("BENCH_DECOYS", "100")
    if app.env.get("BENCH_ERRORLOG"):
        env["FASTWARE_ERROR_LOG"] = str(log_dir / f"{app.name}-{port}-errors.db")
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            command,
            cwd=APPS_DIR,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    return Server(app, port, process, log_path)


def _log_tail(server: Server, lines: int = 30) -> str:
    try:
        text = server.log_path.read_text(errors="replace")
    except OSError:
        return "(no log)"
    return "\n".join(text.splitlines()[-lines:]) or "(empty log)"


def wait_ready(server: Server, timeout: float = READY_TIMEOUT) -> None:
    """Block until the server's worker answers ``GET /plaintext`` with 200."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if server.process.poll() is not None:
            raise BenchError(
                f"{server.app.label}: Granian exited with code {server.process.returncode} "
                f"before answering. Its log:\n{_log_tail(server)}"
            )
        with contextlib.suppress(OSError, http.client.HTTPException):
            status, _, _ = http_request(server.port, "GET", "/plaintext", None, timeout=1.0)
            if status == 200:
                return
        time.sleep(0.1)
    raise BenchError(
        f"{server.app.label}: no answer on port {server.port} after {timeout:.0f} s. "
        f"Its log:\n{_log_tail(server)}"
    )


def stop_server(server: Server) -> None:
    """Stop Granian the way an operator would (SIGINT), escalating only if it hangs."""
    process = server.process
    if process.poll() is not None:
        return
    for sig, grace in ((signal.SIGINT, 15.0), (signal.SIGTERM, 5.0)):
        with contextlib.suppress(ProcessLookupError):
            process.send_signal(sig)
        try:
            process.wait(grace)
        except subprocess.TimeoutExpired:
            continue
        break
    else:
        print(
            f"warning: {server.app.label} ignored SIGINT and SIGTERM; killing it", file=sys.stderr
        )
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
        process.wait()
    # Workers that outlived their parent would keep the port and skew later measurements.
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(process.pid, signal.SIGKILL)


@contextlib.contextmanager
def running(apps: Sequence[App], log_dir: Path) -> Iterator[dict[str, Server]]:
    """Start a server for each app, wait until all answer, and stop them all on exit."""
    servers: dict[str, Server] = {}
    try:
        for app in apps:
            servers[app.name] = start_server(app, log_dir)
        for server in servers.values():
            wait_ready(server)
        yield servers
    finally:
        for server in servers.values():
            stop_server(server)


# -- correctness -------------------------------------------------------------------------------


def http_request(
    port: int,
    method: str,
    path: str,
    body: bytes | None,
    timeout: float = 10.0,
    extra_headers: Sequence[tuple[str, str]] = (),
) -> tuple[int, str, bytes]:
    """One HTTP/1.1 request; returns (status, content-type, body)."""
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        headers = {"content-type": "application/json"} if body is not None else {}
        headers.update((name.lower(), value) for name, value in extra_headers)
        connection.request(method, path, body=body, headers=headers)
        response = connection.getresponse()
        return response.status, response.getheader("content-type", ""), response.read()
    finally:
        connection.close()


def check_answers(servers: dict[str, Server]) -> None:
    """Every app must give the same, expected answer on each endpoint it is measured on."""
    problems: list[str] = []
    for server in servers.values():
        for name in server.app.endpoints:
            endpoint = ENDPOINTS_BY_NAME[name]
            try:
                status, content_type, body = http_request(
                    server.port,
                    endpoint.method,
                    endpoint.path,
                    endpoint.request_body,
                    extra_headers=endpoint.headers,
                )
            except (OSError, http.client.HTTPException) as exc:
                problems.append(f"{server.app.label} {endpoint.method} {endpoint.path}: {exc!r}")
                continue
            media_type = content_type.split(";", 1)[0].strip().lower()
            if (
                status != endpoint.status
                or media_type != endpoint.media_type
                or body != endpoint.expected_body
            ):
                problems.append(
                    f"{server.app.label} {endpoint.method} {endpoint.path}: got {status} "
                    f"{content_type!r} {body[:200]!r}; expected {endpoint.status} "
                    f"{endpoint.media_type!r} "
                    f"{endpoint.expected_body[:200]!r}"
                )
    if problems:
        raise BenchError("apps disagree on their answers:\n  " + "\n  ".join(problems))


# -- wrk ---------------------------------------------------------------------------------------

_UNITS_MS = {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60_000.0}


def _parse_wrk(output: str) -> tuple[int, float, float, int, int]:
    requests = re.search(r"^\s*(\d+) requests in ", output, re.MULTILINE)
    rps = re.search(r"^Requests/sec:\s+([\d.]+)", output, re.MULTILINE)
    p99 = re.search(r"^\s+99%\s+([\d.]+)(us|ms|s|m)\s*$", output, re.MULTILINE)
    if not (requests and rps and p99):
        raise BenchError(f"cannot parse wrk output:\n{output}")
    non_2xx = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", output)
    errors = re.search(
        r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", output
    )
    return (
        int(requests.group(1)),
        float(rps.group(1)),
        float(p99.group(1)) * _UNITS_MS[p99.group(2)],
        int(non_2xx.group(1)) if non_2xx else 0,
        sum(int(n) for n in errors.groups()) if errors else 0,
    )


def run_wrk(url: str, duration: int, connections: int, script: Path | None, latency: bool) -> str:
    command = [
        "taskset", "-c", CLIENT_CPU, "wrk",
        "-t1", f"-c{connections}", f"-d{duration}s", "--timeout", "5s",
    ]  # fmt: skip
    if latency:
        command.append("--latency")
    if script is not None:
        command += ["-s", str(script)]
    command.append(url)
    result = subprocess.run(
        command, capture_output=True, text=True, timeout=duration + 30, check=False
    )
    if result.returncode != 0:
        raise BenchError(f"wrk failed ({result.returncode}): {result.stderr}{result.stdout}")
    return result.stdout


def measure(
    server: Server,
    endpoint: Endpoint,
    args: argparse.Namespace,
    scripts: dict[str, Path],
) -> Sample:
    """Warm up, then one measured wrk run with the server's CPU time read around it."""
    url = f"http://127.0.0.1:{server.port}{endpoint.path}"
    script = scripts.get(endpoint.name)
    if args.warmup > 0:
        run_wrk(url, args.warmup, args.connections, script, latency=False)
    pids = process_tree(server.pid)
    cpu_before = tree_cpu_seconds(pids)
    wall_before = time.monotonic()
    output = run_wrk(url, args.duration, args.connections, script, latency=True)
    wall = time.monotonic() - wall_before
    cpu = tree_cpu_seconds(pids) - cpu_before
    requests, rps, p99_ms, non_2xx, socket_errors = _parse_wrk(output)
    return Sample(
        requests=requests,
        rps=rps,
        p99_ms=p99_ms,
        cpu_us_per_request=cpu * 1e6 / requests if requests else float("nan"),
        core_busy=cpu / wall,
        non_2xx=non_2xx,
        socket_errors=socket_errors,
    )


def _cpu_idle_counters() -> dict[str, tuple[int, int]]:
    """(idle, total) jiffies per CPU from /proc/stat."""
    counters: dict[str, tuple[int, int]] = {}
    for line in Path("/proc/stat").read_text().splitlines():
        name, *values = line.split()
        if name.startswith("cpu") and name != "cpu":
            numbers = [int(value) for value in values]
            counters[name] = (numbers[3] + numbers[4], sum(numbers[:8]))
    return counters


def wait_for_quiet(limit: float = 20.0, threshold: float = 0.15) -> None:
    """Wait (up to ``limit`` seconds) until no CPU is more than ``threshold`` busy.

    Nothing of ours runs between measurements (idle servers use no CPU), so load seen here is
    another process's, and a run started under it would be disturbed.
    """
    deadline = time.monotonic() + limit
    before = _cpu_idle_counters()
    while True:
        time.sleep(0.5)
        after = _cpu_idle_counters()
        busiest = max(
            1 - (after[cpu][0] - before[cpu][0]) / max(after[cpu][1] - before[cpu][1], 1)
            for cpu in after
        )
        if busiest <= threshold or time.monotonic() >= deadline:
            return
        before = after


@dataclass(slots=True)
class RetryBudget:
    """Seconds left for re-measuring disturbed runs, so a busy machine cannot stretch a run."""

    seconds: float


def measure_settled(
    server: Server,
    endpoint: Endpoint,
    args: argparse.Namespace,
    scripts: dict[str, Path],
    budget: RetryBudget,
) -> Sample:
    """``measure``, repeated while something else on the machine visibly disturbed the run.

    With wrk on its own CPU, a server that is not kept busy means that another process took
    CPU 0 from the server or CPU 1 from wrk. Such a run is repeated, after waiting for the
    machine to quieten, up to ``--retries`` times while the retry budget lasts; the least
    disturbed attempt is kept.
    """
    best = measure(server, endpoint, args, scripts)
    for _ in range(args.retries):
        if best.core_busy >= args.min_busy:
            break
        if budget.seconds <= 0:
            print(
                f"  {server.app.label} {endpoint.name}: server core only {best.core_busy:.0%} "
                "busy, but the retry budget is spent; keeping it",
                file=sys.stderr,
            )
            break
        print(
            f"  {server.app.label} {endpoint.name}: server core only {best.core_busy:.0%} busy "
            "(another process competed for the CPUs); measuring again",
            file=sys.stderr,
        )
        started = time.monotonic()
        wait_for_quiet(limit=min(20.0, max(budget.seconds - args.duration - args.warmup, 0.0)))
        sample = measure(server, endpoint, args, scripts)
        budget.seconds -= time.monotonic() - started
        if sample.core_busy > best.core_busy:
            best = sample
    return best


def _lua_string(data: bytes) -> str:
    """``data`` (ASCII) as a quoted Lua string: long brackets would turn CRLF into LF."""
    text = data.decode("ascii")
    for raw, escaped in (("\\", "\\\\"), ('"', '\\"'), ("\r", "\\r"), ("\n", "\\n")):
        text = text.replace(raw, escaped)
    return f'"{text}"'


def write_lua_scripts(directory: Path) -> dict[str, Path]:
    """wrk scripts for endpoints that are not a plain GET."""
    scripts: dict[str, Path] = {}
    for endpoint in ENDPOINTS:
        if endpoint.method == "GET" and endpoint.request_body is None and not endpoint.headers:
            continue
        path = directory / f"{endpoint.name}.lua"
        lines = [f'wrk.method = "{endpoint.method}"']
        if endpoint.request_body is not None:
            lines.append(f"wrk.body = {_lua_string(endpoint.request_body)}")
            lines.append('wrk.headers["Content-Type"] = "application/json"')
        lines += [f'wrk.headers["{name}"] = "{value}"' for name, value in endpoint.headers]
        path.write_text("\n".join(lines) + "\n")
        scripts[endpoint.name] = path
    return scripts


# -- report ------------------------------------------------------------------------------------


@dataclass(slots=True)
class Results:
    """Samples per (app, endpoint) across rounds, and peak RSS per app."""

    samples: dict[tuple[str, str], list[Sample]] = field(default_factory=dict)
    peak_rss: dict[str, float] = field(default_factory=dict)

    def add(self, app: str, endpoint: str, sample: Sample) -> None:
        self.samples.setdefault((app, endpoint), []).append(sample)

    def median_rps(self, app: str, endpoint: str) -> float | None:
        samples = self.samples.get((app, endpoint))
        return statistics.median(s.rps for s in samples) if samples else None

    def median_cpu(self, app: str, endpoint: str) -> float | None:
        samples = self.samples.get((app, endpoint))
        return statistics.median(s.cpu_us_per_request for s in samples) if samples else None

    def cpu_ratio(self, app: str, endpoint: str) -> float | None:
        """Raw ASGI's CPU per request over the app's: the req/s ratio a saturated core gives."""
        value = self.median_cpu(app, endpoint)
        base = self.median_cpu(BASELINE, endpoint)
        return base / value if value and base is not None else None

    def ratio(self, app: str, endpoint: str) -> float | None:
        value = self.median_rps(app, endpoint)
        base = self.median_rps(BASELINE, endpoint)
        return value / base if value is not None and base else None


def _version(distribution: str) -> str:
    try:
        return metadata.version(distribution)
    except metadata.PackageNotFoundError:
        return "not installed"


def _cpu_model() -> str:
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    return platform.processor() or "unknown"


def _wrk_version() -> str:
    result = subprocess.run(["wrk", "-v"], capture_output=True, text=True, check=False)
    first = (result.stdout + result.stderr).splitlines()
    return first[0].split(" [")[0] if first else "wrk"


def header(args: argparse.Namespace, apps: Sequence[App]) -> list[str]:
    nproc = subprocess.run(["nproc"], capture_output=True, text=True, check=False).stdout.strip()
    now = dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC")
    return [
        "# fastware benchmark",
        "",
        f"- Date: {now}",
        f"- Machine: {nproc} CPUs (nproc), {_cpu_model()}, Linux {platform.release()}",
        f"- Python {platform.python_version()}, Granian {_version('granian')} "
        f"(uvloop {_version('uvloop')}), msgspec {_version('msgspec')}, "
        f"Starlette {_version('starlette')}, fastware-core {_version('fastware-core')}",
        f"- Method: Granian, 1 worker, `--loop uvloop`, pinned to CPU {SERVER_CPU}; "
        f"{_wrk_version()}, 1 thread, {args.connections} connections, pinned to CPU "
        f"{CLIENT_CPU}; {args.warmup} s warm-up + {args.duration} s measured per run; "
        f"{args.rounds} round(s), interleaved; medians across rounds.",
        "- Columns: *vs raw ASGI* is req/s over raw ASGI's on the same endpoint; *CPU µs/req* "
        "is user+system time of the whole Granian process tree over requests served; *spread* "
        "is (max-min)/median of req/s across rounds; *core* is how busy the server's CPU was.",
        f"- Apps: {', '.join(app.label for app in apps)}. `/users/{{id}}` is registered after "
        f"{os.environ.get('BENCH_DECOYS', '100')} parametrised decoy routes in Starlette and "
        "fastware unless stated.",
        "",
    ]


def _fmt(value: float | None, spec: str, suffix: str = "") -> str:
    return "n/a" if value is None else f"{value:{spec}}{suffix}"


def results_table(results: Results, apps: Sequence[App], min_busy: float) -> list[str]:
    lines = [
        "## Results",
        "",
        "| endpoint | app | req/s | vs raw ASGI | p99 (ms) | CPU µs/req | spread | core |",
        "|---|---|--:|--:|--:|--:|--:|--:|",
    ]
    for endpoint in ENDPOINTS:
        for app in apps:
            samples = results.samples.get((app.name, endpoint.name))
            if not samples:
                continue
            rps = statistics.median(s.rps for s in samples)
            spread = (
                (max(s.rps for s in samples) - min(s.rps for s in samples)) / rps
                if len(samples) > 1
                else None
            )
            expected_errors = endpoint.status >= 400  # every answer is non-2xx by design
            flag = (
                " ⚠"
                if any((s.non_2xx and not expected_errors) or s.socket_errors for s in samples)
                else ""
            )
            if any(s.core_busy < min_busy for s in samples):
                flag += " ~"
            lines.append(
                f"| {endpoint.method} {endpoint.path} | {app.label} | {rps:,.0f}{flag} "
                f"| {_fmt(results.ratio(app.name, endpoint.name), '.2f', 'x')} "
                f"| {statistics.median(s.p99_ms for s in samples):.2f} "
                f"| {statistics.median(s.cpu_us_per_request for s in samples):.1f} "
                f"| {_fmt(None if spread is None else spread * 100, '.1f', '%')} "
                f"| {statistics.median(s.core_busy for s in samples):.0%} |"
            )
    lines.append("")
    errors = [
        f"- {APPS_BY_NAME[app].label} {endpoint}: {sum(s.non_2xx for s in samples)} non-2xx, "
        f"{sum(s.socket_errors for s in samples)} socket errors"
        for (app, endpoint), samples in results.samples.items()
        if any(
            (s.non_2xx and ENDPOINTS_BY_NAME[endpoint].status < 400) or s.socket_errors
            for s in samples
        )
    ]
    if errors:
        lines += ["⚠ errors during measurement (wrk counts):", "", *errors, ""]
    if any(s.core_busy < min_busy for group in results.samples.values() for s in group):
        lines += [
            f"~ at least one round kept the server core under {min_busy:.0%} busy even after "
            "retries: another process competed for the CPUs, so req/s there is understated "
            "(CPU µs/req is still meaningful).",
            "",
        ]
    lines += ["## Peak RSS of the worker (VmHWM)", "", "| app | MiB |", "|---|--:|"]
    lines += [
        f"| {app.label} | {results.peak_rss[app.name]:.1f} |"
        for app in apps
        if app.name in results.peak_rss
    ]
    lines.append("")
    return lines


def targets(results: Results) -> list[str]:
    checks: list[tuple[str, str, float]] = [
        *(("fastware_rsgi", name, 1.0) for name in ("plaintext", "json", "users")),
        ("fastware_rsgi", "echo", 1.15),
        *(("fastware_asgi", name, 0.9) for name in BASE_ENDPOINTS),
    ]
    lines = [
        "## Targets",
        "",
        "Verdicts use the req/s ratio; the ratio of CPU µs/req next to it is the same comparison",
        "made robust to other load on the machine (it assumes the server core is saturated).",
        "",
    ]
    for app, endpoint, minimum in checks:
        path = ENDPOINTS_BY_NAME[endpoint].path
        label = f"{APPS_BY_NAME[app].label} {path} ≥ {minimum:.2f}x raw ASGI"
        ratio = results.ratio(app, endpoint)
        if ratio is None:
            lines.append(f"- n/a  {label}: not measured")
        else:
            verdict = "PASS" if ratio >= minimum else "MISS"
            cpu_ratio = results.cpu_ratio(app, endpoint)
            lines.append(
                f"- {verdict} {label}: {ratio:.2f}x (by CPU µs/req: {_fmt(cpu_ratio, '.2f', 'x')})"
            )
    few = results.median_rps("fastware_rsgi_decoys10", "users")
    many = results.median_rps("fastware_rsgi_decoys1000", "users")
    label = "fastware (RSGI) /users/42 with 1000 decoy routes within 5% of 10"
    if few is None or many is None:
        lines.append(f"- n/a  {label}: not measured")
    else:
        change = many / few - 1
        verdict = "PASS" if abs(change) <= 0.05 else "MISS"
        cpu_few = results.median_cpu("fastware_rsgi_decoys10", "users") or float("nan")
        cpu_many = results.median_cpu("fastware_rsgi_decoys1000", "users") or float("nan")
        lines.append(
            f"- {verdict} {label}: {many:,.0f} vs {few:,.0f} req/s ({change:+.1%}); "
            f"CPU {cpu_many:.1f} vs {cpu_few:.1f} µs/req ({cpu_many / cpu_few - 1:+.1%})"
        )
    lines += di_cost(results)
    lines += typed_cost(results)
    lines += error_cost(results)
    lines += flag_cost(results)
    lines += auth_cost(results)
    lines.append("")
    return lines


def error_cost(results: Results) -> list[str]:
    """What an unhandled exception costs with the default error log: a route that raises
    (500, logged to stderr, a row with its traceback queued) against /json in the same app."""
    lines = []
    for door in ("rsgi", "asgi"):
        name = f"fastware_{door}_errorlog"
        cpu_ok, cpu_raise = results.median_cpu(name, "json"), results.median_cpu(name, "raise")
        rps_ok, rps_raise = results.median_rps(name, "json"), results.median_rps(name, "raise")
        if cpu_ok and cpu_raise and rps_ok and rps_raise:
            lines.append(
                f"- Errors, {door.upper()}: /raise (500 + logged + recorded) costs "
                f"{cpu_raise:.1f} µs/req vs {cpu_ok:.1f} for /json ({cpu_raise / cpu_ok:.2f}x "
                f"CPU; req/s {rps_raise / rps_ok:.2f}x)"
            )
    return lines


def auth_cost(results: Results) -> list[str]:
    """What fastware-auth costs per request, against /json of the same app in the same run:
    a bearer JWT verified per request (target: at most 15 µs) and an in-memory rate-limit
    check (target: at most 3 µs)."""
    lines = []
    for door in ("rsgi", "asgi"):
        app = f"fastware_{door}_auth"
        cpu_plain = results.median_cpu(app, "json")
        rps_plain = results.median_rps(app, "json")
        for endpoint, what, limit in (
            ("authed", "a bearer JWT verified per request", 15.0),
            ("limited", "an in-memory rate-limit check", 3.0),
        ):
            cpu = results.median_cpu(app, endpoint)
            rps = results.median_rps(app, endpoint)
            if cpu is None or cpu_plain is None or not rps or not rps_plain:
                continue
            extra = cpu - cpu_plain
            verdict = "PASS" if extra <= limit else "MISS"
            lines.append(
                f"- {verdict} auth, {door.upper()}: {ENDPOINTS_BY_NAME[endpoint].path} ({what}) "
                f"costs {cpu:.1f} µs/req vs {cpu_plain:.1f} for /json ({extra:+.1f} µs, target "
                f"≤ {limit:.0f}; req/s {rps / rps_plain:.2f}x the plain route)"
            )
    return lines


APPEND_COST = r"""
import time, tempfile, os
from fastware_core.recording import ErrorContext
from fastware_errorlog import ErrorLog
N = 20000
with tempfile.TemporaryDirectory() as tmp:
    log = ErrorLog(os.path.join(tmp, "errors.db"), max_queue=N * 2)
    log.append(method="GET", path="/warm", status_code=500)
    log.flush()
    best = float("inf")
    for _ in range(5):
        started = time.perf_counter()
        for i in range(N):
            log.append(method="GET", path="/items/42", status_code=500, detail="boom",
                       request_id="0123456789abcdef")
        best = min(best, (time.perf_counter() - started) / N)
        log.flush(timeout=120)
    def fail(depth):
        if depth == 0:
            raise ValueError("boom")
        fail(depth - 1)
    try:
        fail(10)
    except ValueError as exc:
        error = exc
    context = ErrorContext(kind="http", method="GET", path="/items/42", request_id="r",
                           headers=(("host", "x"), ("authorization", "Bearer t")))
    record_best = float("inf")
    for _ in range(5):
        started = time.perf_counter()
        for i in range(2000):
            log.record(error, context)
        record_best = min(record_best, (time.perf_counter() - started) / 2000)
        log.flush(timeout=120)
    log.close()
    print(f"{best * 1e6:.2f} {record_best * 1e6:.2f}")
"""


def append_cost() -> list[str]:
    """Event-loop time of ``ErrorLog.append`` and ``record`` (the write happens in the
    writer thread), measured in a subprocess on the server CPU."""
    result = subprocess.run(
        ["taskset", "-c", SERVER_CPU, sys.executable, "-c", APPEND_COST],
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    if result.returncode != 0:
        raise BenchError(f"the append benchmark failed: {result.stderr}")
    append_us, record_us = (float(v) for v in result.stdout.split())
    verdict = "PASS" if append_us <= 5.0 else "MISS"
    return [
        f"- {verdict} ErrorLog.append on the request path ≤ 5 µs: {append_us:.2f} µs "
        f"(record() of a 12-frame exception: {record_us:.2f} µs; both best of 5, the SQLite "
        "write runs in the writer thread)"
    ]


FLAG_CHECK_BUDGET_US = 1.0


def flag_cost(results: Results) -> list[str]:
    """What a feature gate costs: a route gated on a flag that is on (``feature=``) against
    the same answer from an ungated route of the same app, in the same run."""
    lines = []
    for door in ("rsgi", "asgi"):
        app = f"fastware_{door}_flags"
        cpu_open = results.median_cpu(app, "json")
        cpu_gated = results.median_cpu(app, "gated")
        rps_open = results.median_rps(app, "json")
        rps_gated = results.median_rps(app, "gated")
        label = f"flag-gated /gated vs ungated /json, {door.upper()}"
        if cpu_open is None or cpu_gated is None or not rps_open or not rps_gated:
            lines.append(f"- n/a  {label}: not measured")
            continue
        extra = cpu_gated - cpu_open
        verdict = "PASS" if extra <= FLAG_CHECK_BUDGET_US else "MISS"
        lines.append(
            f"- {verdict} {label} ≤ {FLAG_CHECK_BUDGET_US:.0f} µs: {cpu_gated:.1f} vs "
            f"{cpu_open:.1f} µs/req ({extra:+.2f} µs); req/s ratio "
            f"{rps_gated / rps_open:.3f}x"
        )
    return lines


def typed_cost(results: Results) -> list[str]:
    """Typed parameters against the same route written by hand, and against FastAPI and
    Litestar on the same endpoint (the target: >= 0.9x by hand, ahead of both)."""
    lines = []
    for door in ("rsgi", "asgi"):
        app = f"fastware_{door}"
        typed = results.median_rps(app, "typed")
        manual = results.median_rps(app, "typed_manual")
        cpu_typed = results.median_cpu(app, "typed")
        cpu_manual = results.median_cpu(app, "typed_manual")
        if typed and manual and cpu_typed is not None and cpu_manual is not None:
            lines.append(
                f"- typed route, {door.upper()}: {typed / manual:.2f}x the req/s of the same "
                f"route by hand with request.json_as ({cpu_typed:.1f} vs {cpu_manual:.1f} "
                f"µs/req)"
            )
        for rival, label in (("fastapi", "FastAPI"), ("litestar", "Litestar")):
            theirs = results.median_rps(rival, "typed")
            if typed and theirs:
                lines.append(
                    f"- typed route, {door.upper()}: {typed / theirs:.2f}x the req/s of {label}"
                )
    return lines


def di_cost(results: Results) -> list[str]:
    """What dependency injection costs: nothing on a route without dependencies (the app
    from ``fastware.create_app`` against fastware-core's), a few µs for three plain ones."""
    lines = []
    for door in ("rsgi", "asgi"):
        bare, wired = f"fastware_{door}", f"fastware_{door}_di"
        cpu_bare = results.median_cpu(bare, "json")
        cpu_wired = results.median_cpu(wired, "json")
        cpu_deps = results.median_cpu(wired, "deps")
        rps_wired = results.median_rps(wired, "json")
        rps_deps = results.median_rps(wired, "deps")
        label = door.upper()
        if cpu_bare is not None and cpu_wired is not None:
            lines.append(
                f"- DI, {label}: /json without dependencies costs {cpu_wired:.1f} µs/req with "
                f"the resolver wired in vs {cpu_bare:.1f} without ({cpu_wired - cpu_bare:+.1f} µs)"
            )
        if cpu_wired is not None and cpu_deps is not None and rps_wired and rps_deps:
            lines.append(
                f"- DI, {label}: /deps (three plain dependencies) costs {cpu_deps:.1f} µs/req vs "
                f"{cpu_wired:.1f} for /json ({cpu_deps - cpu_wired:+.1f} µs; req/s "
                f"{rps_deps / rps_wired - 1:+.1%})"
            )
    return lines


# -- main --------------------------------------------------------------------------------------


def parse_args(argv: Sequence[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="scripts/bench",
        description="Benchmark fastware against raw ASGI, raw RSGI and Starlette under Granian.",
    )
    parser.add_argument("--rounds", type=int, default=3, help="interleaved rounds (default 3)")
    parser.add_argument("--duration", type=int, default=5, help="seconds per measured run")
    parser.add_argument("--warmup", type=int, default=1, help="seconds of warm-up per run")
    parser.add_argument("--connections", type=int, default=50, help="wrk connections")
    parser.add_argument(
        "--only",
        action="append",
        default=[],
        metavar="APP",
        help=f"run only these apps (repeatable or comma-separated): {', '.join(APPS_BY_NAME)}",
    )
    parser.add_argument(
        "--endpoint",
        action="append",
        default=[],
        metavar="NAME",
        help="run only these endpoints (repeatable or comma-separated): "
        + ", ".join(ENDPOINTS_BY_NAME),
    )
    parser.add_argument(
        "--retries",
        type=int,
        default=2,
        help="extra attempts for a run whose server CPU was less than --min-busy busy (default 2)",
    )
    parser.add_argument(
        "--retry-budget",
        type=float,
        metavar="SECONDS",
        help="total time allowed for retries (default: 15%% of the planned time, at least 20 s)",
    )
    parser.add_argument(
        "--min-busy",
        type=float,
        default=0.9,
        help="fraction of CPU 0 the server must use for a run to count as undisturbed",
    )
    parser.add_argument("--quick", action="store_true", help="1 round x 2 s, for a smoke run")
    parser.add_argument("--output", type=Path, help="also write the Markdown report here")
    args = parser.parse_args(argv)
    if args.quick:
        args.rounds, args.duration = 1, 2
    if args.rounds < 1 or args.duration < 1 or args.warmup < 0 or args.connections < 1:
        parser.error("--rounds, --duration and --connections must be positive")
    if args.retries < 0 or not 0 <= args.min_busy <= 1:
        parser.error("--retries must be >= 0 and --min-busy between 0 and 1")
    args.only = _split_names(parser, args.only, APPS_BY_NAME, "app")
    args.endpoint = _split_names(parser, args.endpoint, ENDPOINTS_BY_NAME, "endpoint")
    return args


def _split_names(
    parser: argparse.ArgumentParser, values: list[str], known: Mapping[str, object], kind: str
) -> list[str]:
    names = [name.strip() for value in values for name in value.split(",") if name.strip()]
    unknown = [name for name in names if name not in known]
    if unknown:
        parser.error(f"unknown {kind}(s): {', '.join(unknown)}; choose from {', '.join(known)}")
    return names


def check_tools() -> None:
    for tool in ("wrk", "taskset", "nproc"):
        if shutil.which(tool) is None:
            raise BenchError(f"{tool} is not installed; scripts/bench installs wrk when root")
    cpus = os.sched_getaffinity(0)
    if not {int(SERVER_CPU), int(CLIENT_CPU)} <= cpus:
        raise BenchError(f"need CPUs {SERVER_CPU} and {CLIENT_CPU}; this process may use {cpus}")


def run(args: argparse.Namespace) -> str:
    apps = [app for app in APPS if not args.only or app.name in args.only]
    wanted = set(args.endpoint or ENDPOINTS_BY_NAME)
    plan = [
        (endpoint, [app for app in apps if endpoint.name in app.endpoints])
        for endpoint in ENDPOINTS
        if endpoint.name in wanted
    ]
    runs = sum(len(group) for _, group in plan)
    planned = args.rounds * (runs * (args.duration + args.warmup + 0.3) + 5)
    budget = RetryBudget(
        args.retry_budget if args.retry_budget is not None else max(20.0, 0.15 * planned)
    )
    print(
        f"{len(apps)} apps, {runs} runs per round, {args.rounds} round(s): about "
        f"{planned / 60:.1f} min, plus up to {budget.seconds:.0f} s re-measuring disturbed runs",
        file=sys.stderr,
    )
    results = Results()
    with tempfile.TemporaryDirectory(prefix="fastware-bench-") as tmp:
        scripts = write_lua_scripts(Path(tmp))
        for round_index in range(args.rounds):
            # Rotate the order each round so no app always runs first or last.
            shift = round_index % max(len(apps), 1)
            order = apps[shift:] + apps[:shift]
            with running(order, Path(tmp)) as servers:
                check_answers(servers)
                for endpoint, group in plan:
                    for app in sorted(group, key=order.index):
                        sample = measure_settled(servers[app.name], endpoint, args, scripts, budget)
                        results.add(app.name, endpoint.name, sample)
                        print(
                            f"round {round_index + 1}/{args.rounds} {endpoint.name:<9} "
                            f"{app.label:<36} {sample.rps:>10,.0f} req/s  "
                            f"p99 {sample.p99_ms:6.2f} ms  "
                            f"{sample.cpu_us_per_request:6.1f} µs/req  "
                            f"core {sample.core_busy:.0%}",
                            file=sys.stderr,
                        )
                for app in order:
                    rss = peak_rss_mib(process_tree(servers[app.name].pid)[1:])
                    results.peak_rss[app.name] = max(results.peak_rss.get(app.name, 0.0), rss)
    lines = header(args, apps) + results_table(results, apps, args.min_busy) + targets(results)
    if not args.only or any(name.endswith("_errorlog") for name in args.only):
        lines += ["## Error log", "", *append_cost(), ""]
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(sys.argv[1:] if argv is None else argv)
    try:
        check_tools()
        report = run(args)
    except BenchError as exc:
        print(f"bench: error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("bench: interrupted", file=sys.stderr)
        return 130
    print(report)
    if args.output is not None:
        args.output.write_text(report)
        print(f"bench: report written to {args.output}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
