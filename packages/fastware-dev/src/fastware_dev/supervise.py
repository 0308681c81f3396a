"""Running the dev environment of ``[tool.fastware.dev]``: ``run_dev`` and its helpers.

``run_dev`` checks the pre-spawn gates, refuses ports that are taken, starts the aux
services (each until healthy), then Vite and the backend in the configured topology, prints
the URLs, and supervises: output of every component is streamed with its prefix, a
component that dies stops everything with its exit status and last output, and Ctrl-C or
SIGTERM stops everything in reverse order within the grace period (process groups
included).

For an ``app`` backend, fastware dev runs two processes: ``backend`` serves the app on an
internal port and is restarted whenever a watched ``.py`` file changes (watchfiles), and
``proxy`` serves the public port (``ViteDevProxy`` in front of the backend) for the whole
session, so the browser's HMR connection survives backend restarts. A backend that fails
to start after a change (a syntax error) shows its traceback and a 503 page until the next
change.

The running environment is recorded in the fastware-server instance registry next to
``.fastware-dev-<app>.pid`` (name ``<app>-dev``), with the identity (PID and start time) of
the supervisor and of each component, so ``fastware dev stop`` stops exactly those
processes, never a process that reused a PID.
"""

from __future__ import annotations

import contextlib
import json
import os
import queue
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from types import FrameType
from typing import Any

from fastware_server.ports import free_port, port_holders, port_is_free
from fastware_server.probe import Endpoint, answers
from fastware_server.process import is_alive, process_start, wait_gone
from fastware_server.registry import (
    RegistryEntry,
    deregister_instance,
    list_instances,
    read_descriptor,
    register_instance,
)

from . import _run
from .checks import run_gates, service_healthy
from .devconfig import AuxService, DevConfig
from .exceptions import (
    ComponentDied,
    DevRunError,
    PortCollisionError,
    PreSpawnGateError,
    ReadinessError,
    SWModeConflictError,
)
from .forward import BackendStatus, write_status
from .output import Printer
from .processes import DevProcess, group_alive, kill_group, teardown

__all__ = (
    "ComponentDied",
    "DevProcess",
    "DevRunError",
    "PortCollisionError",
    "PreSpawnGateError",
    "ReadinessError",
    "SWModeConflictError",
    "check_sw_mode",
    "dev_log_path",
    "dev_pid_path",
    "list_dev_instances",
    "resolve_backend_sw_mode",
    "run_dev",
    "run_gates",
    "stop_dev_instances",
    "supervise_loop",
    "teardown",
)

STARTUP_TIMEOUT = 60.0
"""Seconds Vite, the backend and the proxy each get to answer their first request."""
RELOAD_GRACE = 2.0
"""Seconds a backend gets to finish its requests when it is restarted for a change."""
DAEMON_TIMEOUT = 120.0
"""Seconds ``fastware dev run --daemon`` waits for the environment to be ready."""
_POLL = 0.1


# -- where things are recorded -------------------------------------------------------------


def dev_pid_path(cfg: DevConfig, pid_dir: str | os.PathLike[str] | None = None) -> Path:
    """``<pid_dir or base_dir>/.fastware-dev-<app>.pid``: its directory holds the registry."""
    return (
        Path(pid_dir if pid_dir is not None else cfg.base_dir) / f".fastware-dev-{cfg.app_name}.pid"
    )


def dev_log_path(cfg: DevConfig, pid_dir: str | os.PathLike[str] | None = None) -> Path:
    """Where ``--daemon`` writes the environment's output: ``.fastware-dev-<app>.log``."""
    return dev_pid_path(cfg, pid_dir).with_suffix(".log")


def list_dev_instances(
    cfg: DevConfig, pid_dir: str | os.PathLike[str] | None = None
) -> list[RegistryEntry]:
    """The running dev environments of this project (registry names ending in ``-dev``).

    Reading the registry removes entries whose process is gone or was replaced.
    """
    return [e for e in list_instances(dev_pid_path(cfg, pid_dir)) if e.name.endswith("-dev")]


def _recorded_components(descriptor: dict[str, Any] | None) -> list[tuple[int, int | None]]:
    found = []
    for item in (descriptor or {}).get("components") or ():
        if isinstance(item, dict) and isinstance(item.get("pid"), int):
            start = item.get("start")
            found.append((item["pid"], start if isinstance(start, int) else None))
    return found


def _kill_recorded(components: Sequence[tuple[int, int | None]]) -> None:
    """SIGKILL the groups of recorded components that still are the recorded processes."""
    for pid, start in components:
        if start is not None and process_start(pid) not in (None, start):
            continue  # the PID now belongs to another process
        if group_alive(pid):
            kill_group(pid, signal.SIGKILL)


def stop_dev_instances(
    cfg: DevConfig, pid_dir: str | os.PathLike[str] | None = None, grace_s: float = 10.0
) -> list[RegistryEntry]:
    """Stop every running dev environment of this project; return the ones stopped.

    Each supervisor gets SIGTERM and stops its components in reverse order within
    ``grace_s``. A supervisor still running after that is killed, and so are the process
    groups of its recorded components, each checked by identity first.
    """
    pid_path = dev_pid_path(cfg, pid_dir)
    entries = list_dev_instances(cfg, pid_dir)
    for entry in entries:
        components = _recorded_components(read_descriptor(pid_path, entry.pid))
        with contextlib.suppress(ProcessLookupError):
            os.kill(entry.pid, signal.SIGTERM)
        # The supervisor gives each component the grace period, in turn.
        if not wait_gone(entry.pid, grace_s * max(1, len(components)) + 5.0, interval=0.1):
            with contextlib.suppress(ProcessLookupError):
                os.kill(entry.pid, signal.SIGKILL)
            wait_gone(entry.pid, 5.0)
        _kill_recorded(components)
        deregister_instance(pid_path, entry.pid)
    return entries


# -- the service-worker guard --------------------------------------------------------------


def resolve_backend_sw_mode(cfg: DevConfig) -> str | None:
    """Import the ``app`` backend in this process and return its ``fastware_sw_mode``.

    Returns ``None`` for a ``cmd`` backend or an app without service-worker mode.

    Raises:
        DevRunError: the app cannot be imported.
    """
    if cfg.backend.app is None:
        return None
    from fastware_server.targets import import_target, parse_target

    try:
        app = import_target(parse_target(cfg.backend.app), cfg.resolve_cwd(cfg.backend.cwd))
    except Exception as exc:
        raise DevRunError(f"the backend {cfg.backend.app} failed to import: {exc}") from None
    mode = getattr(app, "fastware_sw_mode", None)
    return mode if isinstance(mode, str) else None


def check_sw_mode(cfg: DevConfig, printer: Printer | None = None) -> None:
    """Refuse an app that uses ``sw_mode="cache"`` (stale code in dev), importing it here.

    ``run_dev`` does this check in the backend process instead, so the supervisor never
    imports the app. For a ``cmd`` backend the check cannot be made; a notice says so.

    Raises:
        SWModeConflictError: the app uses cache mode.
    """
    if cfg.backend.app is None:
        (printer or Printer()).say(
            "notice: the backend is a cmd; fastware dev cannot check its sw_mode (cache mode "
            "serves stale code in dev)"
        )
        return
    if resolve_backend_sw_mode(cfg) == "cache":
        raise SWModeConflictError(
            f'{cfg.backend.app} uses sw_mode="cache": its service worker would serve stale '
            'code in dev. Use sw_mode="off" (or "reset") while developing'
        )


def supervise_loop(
    started: Sequence[DevProcess], stop_flag: dict[str, bool] | threading.Event, poll_s: float = 0.2
) -> DevProcess | None:
    """Wait until a component exits (returned) or ``stop_flag`` is set (``None``)."""

    def stopping() -> bool:
        if isinstance(stop_flag, threading.Event):
            return stop_flag.is_set()
        return bool(stop_flag.get("flag"))

    while not stopping():
        for component in started:
            if not component.is_running():
                return component
        time.sleep(poll_s)
    return None


# -- run_dev -------------------------------------------------------------------------------


class _Stopped(Exception):
    """A signal asked to stop while starting."""


def _last_line(lines: Sequence[str]) -> str:
    for line in reversed(lines):
        text = line.strip()
        if text.startswith(_run.ERROR_PREFIX):
            return text[len(_run.ERROR_PREFIX) :]
    return next((line.strip() for line in reversed(lines) if line.strip()), "")


def _holder_text(port: int) -> str:
    holders = port_holders(port)
    if not holders:
        return ""
    pid = holders[0]
    try:
        raw = Path(f"/proc/{pid}/cmdline").read_bytes()
        command = " ".join(part.decode("utf-8", "replace") for part in raw.split(b"\0") if part)
    except OSError:
        command = ""
    return f" by PID {pid}" + (f" ({command[:60]})" if command else "")


def _free(host: str, port: int) -> bool:
    hosts = ["127.0.0.1", "::1"] if host == "localhost" else [host]
    for candidate in hosts:
        try:
            if not port_is_free(candidate, port):
                return False
        except Exception:
            if candidate == host:
                raise
    return True


class _Environment:
    """One run of the dev environment (the state ``run_dev`` works with)."""

    def __init__(
        self,
        cfg: DevConfig,
        *,
        grace_s: float,
        pid_dir: str | os.PathLike[str] | None,
        printer: Printer,
        startup_timeout: float,
    ) -> None:
        self.cfg = cfg
        self.grace_s = grace_s
        self.pid_path = dev_pid_path(cfg, pid_dir)
        self.printer = printer
        self.startup_timeout = startup_timeout
        self.stopping = threading.Event()
        self.started: list[DevProcess] = []
        self.backend: DevProcess | None = None
        self.proxy: DevProcess | None = None
        self.vite: DevProcess | None = None
        self.backend_failed = False
        self.internal_port: int | None = None
        self.run_dir: Path | None = None
        self.changes: queue.Queue[set[tuple[Any, str]]] = queue.Queue()
        self._watch_stop = threading.Event()
        self._signals: dict[int, Any] = {}
        self._signal_count = 0
        self._registered = False
        self.state = "starting"

    # signals -------------------------------------------------------------------------------

    def _on_signal(self, signum: int, frame: FrameType | None) -> None:
        self._signal_count += 1
        self.stopping.set()
        if self._signal_count > 1:  # a second Ctrl-C: no more grace
            for component in self.started:
                component.forward_signal(signal.SIGKILL)

    def _install_signals(self) -> None:
        if threading.current_thread() is not threading.main_thread():
            return
        for signum in (signal.SIGINT, signal.SIGTERM):
            self._signals[signum] = signal.signal(signum, self._on_signal)

    def _restore_signals(self) -> None:
        for signum, handler in self._signals.items():
            signal.signal(signum, handler)
        self._signals.clear()

    # registry ------------------------------------------------------------------------------

    @property
    def public_url(self) -> str:
        backend = self.cfg.backend
        if backend.port is not None:
            return Endpoint(host=backend.host, port=backend.port).url
        return Endpoint(host=self.cfg.vite.host, port=self.cfg.vite.port).url

    def _register(self) -> None:
        cfg = self.cfg
        register_instance(
            self.pid_path,
            cfg.backend.port if cfg.backend.port is not None else cfg.vite.port,
            cfg.env_name,
            state=self.state,
            url=self.public_url,
            config=str(cfg.source_path) if cfg.source_path is not None else None,
            grace=self.grace_s,
            components=[
                {"name": c.name, "pid": c.pid, "start": c.start_time}
                for c in self.started
                if c.pid is not None
            ],
        )
        self._registered = True

    # starting ------------------------------------------------------------------------------

    def _check_ports(self) -> None:
        cfg = self.cfg
        where = str(cfg.source_path) if cfg.source_path is not None else "[tool.fastware.dev]"
        checks = [(cfg.vite.host, cfg.vite.port, "vite.port", "Vite")]
        if cfg.backend.port is not None:
            checks.append((cfg.backend.host, cfg.backend.port, "backend.port", "the backend"))
        for host, port, key, what in checks:
            try:
                free = _free(host, port)
            except Exception as exc:
                raise PortCollisionError(f"cannot use {host}:{port} for {what}: {exc}") from None
            if not free:
                raise PortCollisionError(
                    f"port {port} ({what}) is already in use{_holder_text(port)}; stop that "
                    f"process or change {key} in {where}"
                )

    def _spawn(self, name: str, cmd: Sequence[str], cwd: Path, env: dict[str, str]) -> DevProcess:
        process = DevProcess(
            name, cmd, cwd=cwd, env=env, grace_s=self.grace_s, printer=self.printer
        )
        process.start()
        self.started.append(process)
        if self._registered:
            self._register()
        return process

    def _wait_ready(
        self, process: DevProcess, ready: Callable[[], bool], what: str, timeout: float
    ) -> None:
        deadline = time.monotonic() + timeout
        while True:
            if self.stopping.is_set():
                raise _Stopped
            if ready():
                return
            if not process.is_running():
                process.wait_output()
                code = process.returncode()
                last = _last_line(process.output())
                if process.name == "backend" and code == _run.SW_MODE_CONFLICT:
                    raise SWModeConflictError(last)
                raise ReadinessError(
                    f"{process.name} exited with status {code} while starting"
                    + (f": {last}" if last else "")
                )
            if time.monotonic() >= deadline:
                raise ReadinessError(f"{process.name} did not {what} within {timeout:g} s")
            time.sleep(_POLL)

    def _start_aux(self, service: AuxService) -> None:
        cwd = self.cfg.resolve_cwd(service.cwd)
        process = self._spawn(service.name, service.cmd, cwd, service.env)
        self._wait_ready(
            process,
            lambda: service_healthy(service.health, cwd),
            f"become healthy ({service.health.describe()})",
            service.timeout_s,
        )

    def _start_vite(self) -> None:
        vite = self.cfg.vite
        self.vite = self._spawn("vite", vite.cmd, self.cfg.resolve_cwd(vite.cwd), vite.env)
        endpoint = Endpoint(host=vite.host, port=vite.port)
        self._wait_ready(
            self.vite, lambda: answers(endpoint), f"answer on {endpoint.url}", self.startup_timeout
        )

    def _backend_command(self) -> list[str]:
        backend = self.cfg.backend
        assert backend.app is not None
        assert self.internal_port is not None
        spec = {
            "target": backend.app,
            "app_dir": str(self.cfg.resolve_cwd(backend.cwd)),
            "host": "127.0.0.1",
            "port": self.internal_port,
            "name": self.cfg.app_name,
            "grace": RELOAD_GRACE,
        }
        return [sys.executable, "-m", "fastware_dev._child", "backend", json.dumps(spec)]

    def _start_backend_process(self) -> DevProcess:
        backend = self.cfg.backend
        process = self._spawn(
            "backend", self._backend_command(), self.cfg.resolve_cwd(backend.cwd), backend.env
        )
        self.backend = process
        return process

    def _internal_ready(self) -> bool:
        assert self.internal_port is not None
        return answers(Endpoint(host="127.0.0.1", port=self.internal_port))

    def _status(self, state: str, message: str = "", output: Sequence[str] = ()) -> None:
        if self.run_dir is not None:
            write_status(self.run_dir / "backend.json", BackendStatus(state, message, list(output)))

    def _start_backend(self) -> None:
        cfg = self.cfg
        backend = cfg.backend
        if backend.cmd is not None:
            process = self._spawn("backend", backend.cmd, cfg.resolve_cwd(backend.cwd), backend.env)
            self.backend = process
            time.sleep(0.5)
            if not process.is_running():
                process.wait_output()
                last = _last_line(process.output())
                raise ReadinessError(
                    f"backend exited with status {process.returncode()} while starting"
                    + (f": {last}" if last else "")
                )
            return
        assert backend.port is not None
        self.run_dir = Path(tempfile.mkdtemp(prefix="fastware-dev-"))
        self.internal_port = free_port("127.0.0.1")
        self._status("starting")
        process = self._start_backend_process()
        self._wait_ready(process, self._internal_ready, "answer", self.startup_timeout)
        self._status("running")
        front = {
            "host": backend.host,
            "port": backend.port,
            "name": cfg.app_name,
            "backend": {"host": "127.0.0.1", "port": self.internal_port},
            "status_file": str(self.run_dir / "backend.json"),
            "vite_port": cfg.vite.port,
            "vite_host": cfg.vite.host,
            "api_prefix": backend.api_prefix,
            "backend_prefixes": backend.backend_prefixes,
            "grace": RELOAD_GRACE,
        }
        self.proxy = self._spawn(
            "proxy",
            [sys.executable, "-m", "fastware_dev._child", "front", json.dumps(front)],
            cfg.base_dir,
            {},
        )
        endpoint = Endpoint(host=backend.host, port=backend.port)
        self._wait_ready(
            self.proxy, lambda: answers(endpoint), f"answer on {endpoint.url}", self.startup_timeout
        )

    # reload --------------------------------------------------------------------------------

    def _watch_roots(self) -> list[Path]:
        backend = self.cfg.backend
        if backend.watch:
            return [self.cfg.resolve_cwd(path) for path in backend.watch]
        return [self.cfg.resolve_cwd(backend.cwd)]

    def _start_watcher(self) -> None:
        roots = self._watch_roots()
        missing = [str(root) for root in roots if not root.is_dir()]
        if missing:
            raise DevRunError(f"backend.watch: no such directory: {', '.join(missing)}")

        def watch() -> None:
            from watchfiles import PythonFilter
            from watchfiles import watch as watch_files

            try:
                for found in watch_files(
                    *roots,
                    watch_filter=PythonFilter(),
                    stop_event=self._watch_stop,
                    debounce=400,
                    step=50,
                    raise_interrupt=False,
                ):
                    self.changes.put({(change, path) for change, path in found})
            except Exception as exc:  # the watcher must never take the environment down
                self.printer.say(f"the file watcher stopped ({exc}); reload is off")

        threading.Thread(target=watch, name="fastware-dev-watch", daemon=True).start()

    def _changed_names(self, changes: set[tuple[Any, str]]) -> str:
        names = []
        for _, path in changes:
            try:
                names.append(str(Path(path).relative_to(self.cfg.base_dir)))
            except ValueError:
                names.append(path)
        names = sorted(set(names))
        return ", ".join(names[:3]) + (f" and {len(names) - 3} more" if len(names) > 3 else "")

    def _restart_backend(self, changes: set[tuple[Any, str]]) -> None:
        while True:  # fold changes that came in together
            try:
                changes |= self.changes.get_nowait()
            except queue.Empty:
                break
        self.printer.say(f"{self._changed_names(changes)} changed: restarting the backend")
        began = time.monotonic()
        self._status("starting")
        old = self.backend
        if old is not None:
            old.stop(RELOAD_GRACE)
            self.started.remove(old)
        process = self._start_backend_process()
        try:
            self._wait_ready(process, self._internal_ready, "answer", self.startup_timeout)
        except (ReadinessError, SWModeConflictError) as exc:
            self.backend_failed = True
            self._status("failed", str(exc), process.output())
            self.printer.say(
                f"the backend did not start: {exc}. Fix the error and save: it restarts on the "
                "next change"
            )
            return
        self.backend_failed = False
        self._status("running")
        self.printer.say(f"backend restarted in {time.monotonic() - began:.1f} s")

    # supervising ---------------------------------------------------------------------------

    def _announce(self) -> None:
        cfg = self.cfg
        lines = ["", f"  fastware dev: {cfg.app_name} is running"]
        if cfg.backend.port is not None:
            lines.append(f"    app      {self.public_url}/   <- open this (backend + Vite)")
        vite = Endpoint(host=cfg.vite.host, port=cfg.vite.port)
        lines.append(f"    vite     {vite.url}/")
        if self.internal_port is not None:
            reload = "reloads on .py changes" if cfg.backend.reload else "no reload"
            lines.append(f"    backend  http://127.0.0.1:{self.internal_port}/  ({reload})")
        else:
            lines.append(f"    backend  {' '.join(cfg.backend.cmd or [])}")
        for service in cfg.aux:
            lines.append(f"    {service.name:<8} healthy ({service.health.describe()})")
        lines += ["  stop: Ctrl-C, or 'fastware dev stop'", ""]
        self.printer.block(lines)

    def _supervise(self) -> int:
        reload = self.cfg.backend.reload and self.internal_port is not None
        while not self.stopping.is_set():
            if reload:
                try:
                    changes = self.changes.get(timeout=_POLL)
                except queue.Empty:
                    changes = None
                if changes is not None and not self.stopping.is_set():
                    self._restart_backend(changes)
            else:
                self.stopping.wait(_POLL)
            for component in list(self.started):
                if component.is_running() or self.stopping.is_set():
                    continue
                component.wait_output()
                if component is self.backend and reload:
                    if not self.backend_failed:
                        self.backend_failed = True
                        message = f"the backend exited with status {component.returncode()}"
                        self._status("failed", message, component.output())
                        self.printer.say(f"{message}; it restarts on the next change")
                    continue
                raise ComponentDied(component.name, component.returncode(), component.output())
        return 0

    def run(self) -> int:
        cfg = self.cfg
        run_gates(cfg)
        running = list_dev_instances(cfg, self.pid_path.parent)
        if running:
            raise DevRunError(
                f"{cfg.env_name} is already running (PID {running[0].pid}); stop it with "
                "'fastware dev stop'"
            )
        self._check_ports()
        if cfg.backend.cmd is not None:
            check_sw_mode(cfg, self.printer)
        self._install_signals()
        try:
            self._register()
            for service in cfg.aux:
                self._start_aux(service)
            order = (self._start_vite, self._start_backend)
            if cfg.topology == "backend-first":
                order = (self._start_backend, self._start_vite)
            for start in order:
                start()
            if cfg.backend.reload and self.internal_port is not None:
                self._start_watcher()
            self.state = "running"
            self._register()
            self._announce()
            return self._supervise()
        except _Stopped:
            return 0
        finally:
            self._watch_stop.set()
            if self.started:
                self.printer.say("stopping")
            teardown(self.started, self.grace_s)
            if self._registered:
                deregister_instance(self.pid_path)
            self._restore_signals()
            if self.run_dir is not None:
                shutil.rmtree(self.run_dir, ignore_errors=True)


def _launch_daemon(
    cfg: DevConfig, grace_s: float, pid_dir: str | os.PathLike[str] | None, printer: Printer
) -> int:
    if cfg.source_path is None:
        raise DevRunError("--daemon needs a configuration file (DevConfig.source_path)")
    running = list_dev_instances(cfg, pid_dir)
    if running:
        raise DevRunError(
            f"{cfg.env_name} is already running (PID {running[0].pid}); stop it with "
            "'fastware dev stop'"
        )
    log = dev_log_path(cfg, pid_dir)
    pid_path = dev_pid_path(cfg, pid_dir)
    command = [
        sys.executable,
        "-m",
        "fastware_dev",
        "run",
        "--no-daemon",
        "--config",
        str(cfg.source_path),
        "--grace",
        str(grace_s),
    ]
    if pid_dir is not None:
        command += ["--pid-dir", str(pid_dir)]
    log.parent.mkdir(parents=True, exist_ok=True)
    with log.open("ab") as output:
        offset = output.tell()
        child = subprocess.Popen(
            command,
            cwd=cfg.base_dir,
            stdin=subprocess.DEVNULL,
            stdout=output,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            env={**os.environ, "PYTHONUNBUFFERED": "1", "NO_COLOR": "1"},
        )
    deadline = time.monotonic() + DAEMON_TIMEOUT
    while True:
        descriptor = read_descriptor(pid_path, child.pid)
        if descriptor is not None and descriptor.get("state") == "running":
            printer.block(
                [
                    f"fastware dev daemon started (pid {child.pid}), name '{cfg.env_name}': "
                    f"{descriptor.get('url')}; log {log}; stop it with: fastware dev stop"
                ]
            )
            return 0
        if child.poll() is not None:
            try:
                with log.open("rb") as handle:
                    handle.seek(offset)
                    lines = handle.read().decode("utf-8", "replace").splitlines()
            except OSError:
                lines = []
            reason = _error_line(lines) or f"it exited with status {child.returncode}"
            raise DevRunError(f"the dev environment did not start: {reason} (log: {log})")
        if time.monotonic() >= deadline:
            child.terminate()
            with contextlib.suppress(subprocess.TimeoutExpired):
                child.wait(grace_s * 4 + 5)
            raise DevRunError(
                f"the dev environment was not ready within {DAEMON_TIMEOUT:g} s; it was "
                f"stopped (log: {log})"
            )
        time.sleep(0.2)


def _error_line(lines: Sequence[str]) -> str:
    for line in reversed(lines):
        _, sep, message = line.partition("error: ")
        if sep and ("fastware dev" in line):
            return message.strip()
    return next((line.strip() for line in reversed(lines) if line.strip()), "")


def run_dev(
    cfg: DevConfig,
    *,
    daemon: bool,
    grace_s: float = 10.0,
    pid_dir: str | os.PathLike[str] | None = None,
    printer: Printer | None = None,
    startup_timeout: float = STARTUP_TIMEOUT,
) -> int:
    """Run the dev environment of ``cfg`` until Ctrl-C/SIGTERM (or, with ``daemon``, start
    it in the background and return once it is ready).

    Args:
        cfg: The configuration (:func:`~fastware_dev.devconfig.load_dev_config`).
        daemon: Start a detached environment (output to ``.fastware-dev-<app>.log``).
        grace_s: Seconds each component gets to stop before it is killed.
        pid_dir: Directory of the PID file and registry (default: the pyproject's).
        printer: Where output goes (default: stdout).
        startup_timeout: Seconds Vite, the backend and the proxy each get to answer.

    Returns:
        0 once stopped by a signal (or started, with ``daemon``).

    Raises:
        PreSpawnGateError: a gate failed.
        PortCollisionError: a port is taken.
        ReadinessError: a component did not start.
        SWModeConflictError: the app uses ``sw_mode="cache"``.
        ComponentDied: a component exited while the environment ran.
        DevRunError: another problem (already running, a command not found...).
    """
    out = (
        printer
        if printer is not None
        else Printer(["vite", "backend", "proxy", *(s.name for s in cfg.aux)])
    )
    if daemon:
        return _launch_daemon(cfg, grace_s, pid_dir, out)
    environment = _Environment(
        cfg, grace_s=grace_s, pid_dir=pid_dir, printer=out, startup_timeout=startup_timeout
    )
    return environment.run()


def supervisor_alive(entry: RegistryEntry) -> bool:
    """Whether the supervisor of ``entry`` still runs."""
    return is_alive(entry.pid)
