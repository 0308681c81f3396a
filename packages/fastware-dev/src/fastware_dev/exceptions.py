"""The errors fastware-dev raises.

:class:`DevConfigError` (a ``ValueError``) is a problem in ``[tool.fastware.dev]``;
:class:`DevRunError` (a ``RuntimeError``) and its subclasses are problems while starting or
supervising the dev environment. Both are :class:`~fastware_core.FastwareError`, and their
messages are one line that names the file, port or component and what to do.
"""

from __future__ import annotations

from collections.abc import Sequence

from fastware_core import FastwareError

__all__ = (
    "ComponentDied",
    "DevConfigError",
    "DevError",
    "DevRunError",
    "PortCollisionError",
    "PreSpawnGateError",
    "ReadinessError",
    "SWModeConflictError",
)


class DevError(FastwareError):
    """Root of the fastware-dev errors."""


class DevConfigError(DevError, ValueError):
    """``[tool.fastware.dev]`` is missing, nested, malformed or holds an unknown key (or an
    argument of :class:`~fastware_dev.ViteDevProxy` or :func:`~fastware_dev.dev` is invalid)."""


class DevRunError(DevError, RuntimeError):
    """The dev environment could not start, or stopped abnormally."""


class PreSpawnGateError(DevRunError):
    """A ``[[tool.fastware.dev.pre_spawn]]`` gate failed; its ``message`` says what to do."""


class ReadinessError(DevRunError):
    """A component did not become ready in time, or exited while starting."""


class PortCollisionError(DevRunError):
    """A port the dev environment needs is taken by another process."""


class SWModeConflictError(DevRunError):
    """The backend app uses ``sw_mode="cache"``, which serves stale code in dev."""


class ComponentDied(DevRunError):
    """A supervised component exited on its own.

    Args:
        component: The component's name (``vite``, ``backend`` or an aux service's name).
        returncode: Its exit status (negative: killed by that signal).
        output: Its last output lines, oldest first.
    """

    component: str
    """The component that exited."""
    returncode: int | None
    """Its exit status; negative for a signal, ``None`` when unknown."""
    output: list[str]
    """Its last output lines, oldest first."""

    def __init__(self, component: str, returncode: int | None, output: Sequence[str] = ()) -> None:
        self.component = component
        self.returncode = returncode
        self.output = list(output)
        if returncode is None:
            how = "exited"
        elif returncode < 0:
            how = f"was killed by signal {-returncode}"
        else:
            how = f"exited with status {returncode}"
        last = next((line.strip() for line in reversed(self.output) if line.strip()), "")
        super().__init__(f"{component} {how}" + (f"; its last output: {last}" if last else ""))
