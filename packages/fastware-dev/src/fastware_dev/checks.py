"""Readiness and gate checks: an HTTP answer, a TCP connection, a command that exits 0."""

from __future__ import annotations

import socket
import subprocess
from collections.abc import Sequence
from pathlib import Path

from .devconfig import DevConfig, HealthCheck, PreSpawnGate
from .exceptions import PreSpawnGateError

__all__ = (
    "check_gate",
    "cmd_succeeds",
    "http_answers",
    "run_gates",
    "service_healthy",
    "tcp_accepts",
)

GATE_CMD_TIMEOUT = 15.0
"""Seconds a ``cmd`` pre-spawn gate may run."""
HEALTH_CMD_TIMEOUT = 10.0
"""Seconds a ``cmd`` health check may run."""
_NET_TIMEOUT = 2.0


def http_answers(url: str, timeout: float = _NET_TIMEOUT) -> bool:
    """Whether ``url`` gives any HTTP answer (any status) within ``timeout`` seconds."""
    import httpx

    try:
        httpx.get(url, timeout=timeout, verify=False, follow_redirects=False, trust_env=False)
    except httpx.HTTPError:
        return False
    return True


def tcp_accepts(host: str, port: int, timeout: float = _NET_TIMEOUT) -> bool:
    """Whether ``host:port`` accepts a TCP connection within ``timeout`` seconds."""
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False


def cmd_succeeds(cmd: Sequence[str], cwd: Path, timeout: float) -> tuple[bool, str]:
    """Run ``cmd``; ``(True, "")`` if it exits 0 within ``timeout``, else ``(False, why)``."""
    try:
        done = subprocess.run(
            list(cmd),
            cwd=cwd,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            timeout=timeout,
            check=False,
        )
    except FileNotFoundError:
        return False, f"{cmd[0]}: command not found"
    except subprocess.TimeoutExpired:
        return False, f"{' '.join(cmd)} did not finish within {timeout:g} s"
    except OSError as exc:
        return False, f"{cmd[0]}: {exc.strerror}"
    if done.returncode != 0:
        last = done.stderr.decode("utf-8", "replace").strip().splitlines()
        detail = f": {last[-1]}" if last else ""
        return False, f"{' '.join(cmd)} exited with status {done.returncode}{detail}"
    return True, ""


def check_gate(gate: PreSpawnGate, base_dir: Path) -> str | None:
    """``None`` when the gate passes, else what failed (for the error message)."""
    if gate.cmd is not None:
        ok, why = cmd_succeeds(gate.cmd, base_dir, GATE_CMD_TIMEOUT)
        return None if ok else why
    if gate.file is not None:
        path = base_dir / gate.file
        return None if path.exists() else f"{path} does not exist"
    if gate.http is not None:
        return None if http_answers(gate.http) else f"{gate.http} does not answer"
    address = gate.tcp_address
    assert address is not None
    return None if tcp_accepts(*address) else f"nothing listens on {gate.tcp}"


def run_gates(cfg: DevConfig) -> None:
    """Check every pre-spawn gate in order.

    Raises:
        PreSpawnGateError: ``pre-spawn gate failed: <message> (<what failed>)`` for the first
            gate that fails.
    """
    for gate in cfg.pre_spawn:
        why = check_gate(gate, cfg.base_dir)
        if why is not None:
            raise PreSpawnGateError(f"pre-spawn gate failed: {gate.message} ({why})")


def service_healthy(health: HealthCheck, cwd: Path) -> bool:
    """One health check of an aux service."""
    if health.http is not None:
        return http_answers(health.http)
    if health.tcp is not None:
        address = health.tcp_address
        assert address is not None
        return tcp_accepts(*address)
    assert health.cmd is not None
    return cmd_succeeds(health.cmd, cwd, HEALTH_CMD_TIMEOUT)[0]
