"""The error raised for dependencies that cannot work."""

from __future__ import annotations

from fastware_core import FastwareError

__all__ = ("DependencyError",)


class DependencyError(FastwareError, TypeError):
    """A dependency graph that cannot be resolved: a missing name, a cycle, a factory with an
    unsupported signature or a scope that does not fit.

    Raised when the app compiles its routes (``create_app``), so a broken graph never waits
    for a request to show itself. The message names the route and the factory.
    """
