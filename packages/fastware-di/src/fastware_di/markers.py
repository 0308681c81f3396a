"""Declaring dependencies: the ``Depends`` marker and the ``dependency`` decorator."""

from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import Any, Literal, TypeVar, overload

__all__ = (
    "Dependency",
    "DependencyOptions",
    "Depends",
    "Scope",
    "dependency",
    "is_marked",
    "options_of",
)

Scope = Literal["request", "app"]
"""``request``: created for each request (the default); ``app``: created once at startup."""

F = TypeVar("F", bound=Callable[..., Any])

_OPTIONS_ATTRIBUTE = "__fastware_dependency__"


class Dependency:
    """The marker :func:`Depends` returns: "inject the value of ``factory`` here"."""

    __slots__ = ("factory",)

    factory: Callable[..., Any]
    """The factory whose value is injected."""

    def __init__(self, factory: Callable[..., Any]) -> None:
        if not callable(factory):
            raise TypeError(f"Depends() needs a callable factory, got {factory!r}")
        self.factory = factory

    def __repr__(self) -> str:
        return f"Depends({getattr(self.factory, '__qualname__', self.factory)!r})"


def Depends(factory: Callable[..., Any]) -> Any:
    """Mark a parameter as injected with ``factory``'s value.

    Use it in ``Annotated`` (``db: Annotated[DB, Depends(get_db)]``), which keeps the
    parameter's type for type checkers, or as the default (``db: DB = Depends(get_db)``).
    Handlers and factories both accept it, so factories can depend on factories.
    """
    return Dependency(factory)


class DependencyOptions:
    """How a factory is run, as set by :func:`dependency`."""

    __slots__ = ("blocking", "scope")

    scope: Scope
    """``request`` or ``app``."""
    blocking: bool
    """Run the (sync) factory in a worker thread."""

    def __init__(self, scope: Scope = "request", blocking: bool = False) -> None:
        self.scope = scope
        self.blocking = blocking


_DEFAULT = DependencyOptions()


@overload
def dependency(factory: F, /) -> F: ...


@overload
def dependency(*, scope: Scope = "request", blocking: bool = False) -> Callable[[F], F]: ...


def dependency(
    factory: F | None = None, /, *, scope: Scope = "request", blocking: bool = False
) -> F | Callable[[F], F]:
    """Set how a factory runs; usable bare (``@dependency``) or with options.

    Args:
        factory: the factory, when used without arguments.
        scope: ``"request"`` (a fresh value per request, the default) or ``"app"`` (created
            at startup, shared by every request, torn down at shutdown).
        blocking: the factory is sync and blocks (file or socket I/O, a sync database
            driver): run it, and its generator cleanup, in a worker thread.

    Returns:
        The factory itself, marked (so overrides keyed by it keep working).

    Raises:
        ValueError: for an unknown scope, or ``blocking`` on an async factory.
    """
    if scope not in ("request", "app"):
        raise ValueError(f"scope must be 'request' or 'app', got {scope!r}")
    options = DependencyOptions(scope, blocking)

    def mark(target: F) -> F:
        if blocking and _is_async(target):
            raise ValueError(
                f"{getattr(target, '__qualname__', target)!r} is async: only sync factories "
                "can be marked blocking"
            )
        try:
            setattr(target, _OPTIONS_ATTRIBUTE, options)
        except (AttributeError, TypeError):
            raise TypeError(
                f"cannot mark {target!r}; wrap it in a function and mark that"
            ) from None
        return target

    return mark(factory) if factory is not None else mark


def options_of(factory: Callable[..., Any]) -> DependencyOptions:
    """The options :func:`dependency` set on ``factory`` (defaults when it was not marked)."""
    options = getattr(factory, _OPTIONS_ATTRIBUTE, None)
    return options if isinstance(options, DependencyOptions) else _DEFAULT


def is_marked(factory: Callable[..., Any]) -> bool:
    """Whether :func:`dependency` marked ``factory``."""
    return isinstance(getattr(factory, _OPTIONS_ATTRIBUTE, None), DependencyOptions)


def _is_async(target: Any) -> bool:
    call = target
    while hasattr(call, "func") and not inspect.isfunction(call):  # functools.partial
        call = call.func
    if not (inspect.isfunction(call) or inspect.ismethod(call)):
        call = getattr(call, "__call__", call)  # noqa: B004 - a callable object's method
    return inspect.iscoroutinefunction(call) or inspect.isasyncgenfunction(call)
