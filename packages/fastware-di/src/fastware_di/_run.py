"""Running a plan's steps for one request, and closing generator dependencies afterwards."""

from __future__ import annotations

import asyncio
import inspect
import logging
from collections.abc import AsyncIterator, Callable
from types import AsyncGeneratorType, CoroutineType, GeneratorType
from typing import Any, Protocol

from ._plan import Step
from ._signature import (
    CONN_KEYWORD,
    CONN_POSITIONAL,
    K_AGEN,
    K_APP,
    K_ASYNC,
    K_GEN,
    K_SYNC,
    K_THREAD,
    K_THREAD_GEN,
    describe,
)

logger = logging.getLogger("fastware.di")

_SPECIAL = frozenset({CoroutineType, GeneratorType, AsyncGeneratorType})


class AppValues(Protocol):
    """Where app-scoped values come from."""

    values: dict[int, Any]

    async def obtain(self, factory: Callable[..., Any]) -> Any:
        """The app-scoped value of ``factory``, created when it does not exist yet."""
        ...


class ThreadedGenerator:
    """A blocking sync generator driven from async code: each step runs in a worker thread."""

    __slots__ = ("generator",)

    def __init__(self, generator: Any) -> None:
        self.generator = generator

    def _next(self) -> tuple[bool, Any]:
        try:
            return True, next(self.generator)
        except StopIteration:
            return False, None

    def _throw(self, exc: BaseException) -> tuple[bool, Any]:
        try:
            return True, self.generator.throw(exc)
        except StopIteration:
            return False, None

    async def __anext__(self) -> Any:
        more, value = await asyncio.to_thread(self._next)
        if not more:
            raise StopAsyncIteration
        return value

    async def athrow(self, exc: BaseException) -> Any:
        """Throw ``exc`` in at the ``yield``."""
        more, value = await asyncio.to_thread(self._throw, exc)
        if not more:
            raise StopAsyncIteration
        return value

    async def aclose(self) -> None:
        """Close the generator."""
        await asyncio.to_thread(self.generator.close)


async def run_steps(
    steps: tuple[Step, ...], conn: Any, app: AppValues | None
) -> tuple[list[Any], list[Any] | None]:
    """Run ``steps`` for one connection: ``(values by step, generators to close)``.

    When a factory raises, the generators opened so far are closed (with the error thrown in
    at their ``yield``) before the error propagates.
    """
    values: list[Any] = []
    cleanups: list[Any] | None = None
    try:
        for kind, factory, conn_mode, conn_name, args in steps:
            if kind <= K_ASYNC and not args and conn_mode != CONN_KEYWORD:
                # The common shape (0.6.3's factories): f() or f(request), sync or async.
                value = factory(conn) if conn_mode else factory()
                if kind == K_ASYNC:
                    value = await value
                elif type(value) not in _PLAIN and _needs_settling(value):
                    value, cleanups = await _settle(value, cleanups, factory)
                values.append(value)
                continue
            if kind == K_APP:
                value = app.values.get(id(factory), _MISSING) if app is not None else _MISSING
                if value is _MISSING:
                    if app is None:
                        raise RuntimeError(f"{describe(factory)} is app-scoped but no app owns it")
                    value = await app.obtain(factory)
                values.append(value)
                continue
            kwargs = {name: values[index] for name, index in args} if args else {}
            if conn_mode == CONN_POSITIONAL:
                positional: tuple[Any, ...] = (conn,)
            else:
                positional = ()
                if conn_mode == CONN_KEYWORD:
                    kwargs[conn_name] = conn  # type: ignore[index]
            if kind == K_ASYNC:
                value = await factory(*positional, **kwargs)
            elif kind == K_SYNC:
                value = factory(*positional, **kwargs)
                if type(value) not in _PLAIN and _needs_settling(value):
                    value, cleanups = await _settle(value, cleanups, factory)
            elif kind == K_AGEN:
                generator = factory(*positional, **kwargs)
                value = await _first(generator, factory)
                cleanups = _track(cleanups, generator)
            elif kind == K_GEN:
                generator = factory(*positional, **kwargs)
                value = _first_sync(generator, factory)
                cleanups = _track(cleanups, generator)
            elif kind == K_THREAD:
                value = await asyncio.to_thread(factory, *positional, **kwargs)
                if type(value) not in _PLAIN and _needs_settling(value):
                    value, cleanups = await _settle(value, cleanups, factory)
            elif kind == K_THREAD_GEN:
                threaded = ThreadedGenerator(factory(*positional, **kwargs))
                value = await _first(threaded, factory)
                cleanups = _track(cleanups, threaded)
            else:  # K_OPAQUE
                value = factory(*positional, **kwargs)
                if type(value) not in _PLAIN and _needs_settling(value):
                    value, cleanups = await _settle(value, cleanups, factory)
            values.append(value)
    except BaseException as exc:
        if cleanups:
            await unwind(cleanups, exc)
        raise
    return values, cleanups


_MISSING: Any = object()

# Result types known to need nothing more (not awaitable, not a generator): 0.6.3 awaited any
# awaitable a factory returned and advanced generators; remembering the plain types keeps
# that check to one set lookup per value.
_PLAIN: set[type] = {int, str, bytes, float, bool, dict, list, tuple, type(None)}
_PLAIN_LIMIT = 1024


def _needs_settling(value: Any) -> bool:
    kind = type(value)
    if kind in _SPECIAL or inspect.isawaitable(value):
        return True
    if len(_PLAIN) < _PLAIN_LIMIT:
        _PLAIN.add(kind)
    return False


def _track(cleanups: list[Any] | None, generator: Any) -> list[Any]:
    if cleanups is None:
        return [generator]
    cleanups.append(generator)
    return cleanups


async def _settle(
    value: Any, cleanups: list[Any] | None, factory: Any
) -> tuple[Any, list[Any] | None]:
    if inspect.isawaitable(value):
        value = await value
    if isinstance(value, GeneratorType):
        first = _first_sync(value, factory)
        return first, _track(cleanups, value)
    if isinstance(value, AsyncGeneratorType):
        first = await _first(value, factory)
        return first, _track(cleanups, value)
    return value, cleanups


def _first_sync(generator: Any, factory: Any) -> Any:
    try:
        return next(generator)
    except StopIteration:
        raise RuntimeError(f"Dependency {describe(factory)} did not yield a value") from None


async def _first(generator: Any, factory: Any) -> Any:
    try:
        return await generator.__anext__()
    except StopAsyncIteration:
        raise RuntimeError(f"Dependency {describe(factory)} did not yield a value") from None


async def unwind(cleanups: list[Any], error: BaseException | None) -> list[str]:
    """Resume every generator dependency once, newest first.

    ``error`` (the handler's exception, if any) is thrown in at the ``yield`` so an
    ``except`` around it sees it; a generator re-raising it is the normal case. Any other
    exception from a cleanup is logged and suppressed. A generator that yields again is
    closed; its name is returned so the caller can report it.

    Returns:
        The names of the generators that yielded more than once.
    """
    twice: list[str] = []
    for generator in reversed(cleanups):
        inner = generator.generator if isinstance(generator, ThreadedGenerator) else generator
        name = getattr(inner, "__qualname__", repr(inner))
        try:
            if isinstance(generator, GeneratorType):
                if error is None:
                    next(generator)
                else:
                    generator.throw(error)
            elif error is None:
                await generator.__anext__()
            else:
                await generator.athrow(error)
        except (StopIteration, StopAsyncIteration):
            continue
        except Exception as exc:
            if exc is not error:
                logger.error("Error in the cleanup of dependency %s", name, exc_info=exc)
            continue
        except BaseException as exc:
            if exc is not error:
                raise
            continue
        twice.append(name)
        try:
            if isinstance(generator, GeneratorType):
                generator.close()
            else:
                await generator.aclose()
        except Exception as exc:
            logger.error("Error while closing dependency %s", name, exc_info=exc)
    return twice


def report_twice(names: list[str]) -> None:
    """Log generator dependencies that yielded more than once (a bug in them)."""
    for name in names:
        logger.error("Dependency %s yielded more than once; it must yield exactly once", name)


class GuardedStream:
    """A streamed body that closes the route's generator dependencies once it ends.

    The app closes the body (``aclose``) whether the stream finished, failed, was cut by the
    client or was never started (HEAD), so the dependencies stay open exactly as long as the
    stream and are always closed.
    """

    __slots__ = ("_cleanups", "_done", "_error", "_inner", "_iterator")

    def __init__(self, inner: Any, cleanups: list[Any]) -> None:
        self._inner = inner
        self._iterator: AsyncIterator[Any] | None = None
        self._cleanups = cleanups
        self._error: BaseException | None = None
        self._done = False

    def __aiter__(self) -> GuardedStream:
        return self

    async def __anext__(self) -> Any:
        iterator = self._iterator
        if iterator is None:
            iterator = self._iterator = self._inner.__aiter__()
        try:
            return await iterator.__anext__()
        except StopAsyncIteration:
            raise
        except Exception as exc:
            self._error = exc
            raise

    async def aclose(self) -> None:
        """Close the inner stream, then the dependencies (its error thrown in, if any)."""
        if self._done:
            return
        self._done = True
        try:
            close = getattr(self._iterator or self._inner, "aclose", None)
            if close is not None:
                await close()
        finally:
            report_twice(await unwind(self._cleanups, self._error))
