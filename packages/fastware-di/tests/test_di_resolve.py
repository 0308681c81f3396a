"""0.6.3's ``DependencyResolver`` API: ``resolve(deps, request)`` and ``cleanup(cleanups)``."""

from __future__ import annotations

import asyncio
import gc
import logging
import weakref
from collections.abc import AsyncIterator, Callable, Generator, Iterator
from typing import Any

import pytest

from fastware_core import FastwareError, HTTPError, Request
from fastware_di import DependencyError, DependencyResolver

pytestmark = pytest.mark.anyio


class FakeRequest:
    """Stands in for the request: ``resolve`` passes whatever it is given."""

    def __init__(self, name: str = "req") -> None:
        self.name = name


REQ = FakeRequest()


# -- constructor and overrides --------------------------------------------------------------


def test_overrides_dict_is_kept_by_reference() -> None:
    overrides: dict[Any, Any] = {}
    resolver = DependencyResolver(overrides)
    assert resolver.overrides.base is overrides


async def test_mutating_the_overrides_dict_later_takes_effect() -> None:
    def real() -> str:
        return "real"

    def fake() -> str:
        return "fake"

    overrides: dict[Any, Any] = {}
    resolver = DependencyResolver(overrides)
    assert (await resolver.resolve({"x": real}, REQ))[0] == {"x": "real"}
    overrides[real] = fake
    assert (await resolver.resolve({"x": real}, REQ))[0] == {"x": "fake"}
    del overrides[real]
    assert (await resolver.resolve({"x": real}, REQ))[0] == {"x": "real"}


async def test_none_overrides_start_empty_and_are_not_shared() -> None:
    first = DependencyResolver(None)
    second = DependencyResolver()
    assert len(first.overrides) == 0
    assert dict(second.overrides) == {}

    def real() -> str:
        return "real"

    first.overrides[real] = lambda: "fake"
    assert (await first.resolve({"x": real}, REQ))[0] == {"x": "fake"}
    assert (await second.resolve({"x": real}, REQ))[0] == {"x": "real"}


async def test_resolve_without_deps_gives_empty_results() -> None:
    values, cleanups = await DependencyResolver().resolve({}, REQ)
    assert values == {}
    assert cleanups == []


# -- calling rules --------------------------------------------------------------------------


async def test_factory_with_a_positional_parameter_gets_the_request_positionally() -> None:
    def named_anything(whatever: FakeRequest) -> str:
        return whatever.name

    def positional_only(req: FakeRequest, /) -> str:
        return req.name

    values, _ = await DependencyResolver().resolve(
        {"a": named_anything, "b": positional_only}, FakeRequest("r1")
    )
    assert values == {"a": "r1", "b": "r1"}


async def test_factory_with_star_args_gets_the_request_positionally() -> None:
    def star(*args: Any) -> tuple[Any, ...]:
        return args

    values, _ = await DependencyResolver().resolve({"a": star}, REQ)
    assert values["a"] == (REQ,)


async def test_keyword_only_request_parameter_gets_the_request_by_keyword() -> None:
    def keyword(*, request: FakeRequest) -> FakeRequest:
        return request

    values, _ = await DependencyResolver().resolve({"a": keyword}, REQ)
    assert values["a"] is REQ


async def test_factory_without_parameters_is_called_with_nothing() -> None:
    calls: list[str] = []

    def nothing() -> int:
        calls.append("called")
        return 7

    values, _ = await DependencyResolver().resolve({"a": nothing}, REQ)
    assert values == {"a": 7}
    assert calls == ["called"]


async def test_only_kwargs_factory_is_called_with_nothing() -> None:
    def loose(**kwargs: Any) -> dict[str, Any]:
        return kwargs

    values, _ = await DependencyResolver().resolve({"a": loose}, REQ)
    assert values["a"] == {}


async def test_parameter_annotated_request_gets_the_connection_wherever_it_is() -> None:
    def typed(*, conn: Request) -> Any:
        return conn

    values, _ = await DependencyResolver().resolve({"a": typed}, REQ)
    assert values["a"] is REQ


async def test_optional_extra_parameter_keeps_its_default() -> None:
    def with_default(request: FakeRequest, limit: int = 10) -> tuple[str, int]:
        return request.name, limit

    values, _ = await DependencyResolver().resolve({"a": with_default}, FakeRequest("q"))
    assert values["a"] == ("q", 10)


async def test_class_factory_is_instantiated_with_the_request() -> None:
    class Service:
        def __init__(self, request: FakeRequest) -> None:
            self.request = request

    values, _ = await DependencyResolver().resolve({"svc": Service}, REQ)
    assert isinstance(values["svc"], Service)
    assert values["svc"].request is REQ


async def test_async_factory_is_awaited() -> None:
    async def fetch(request: FakeRequest) -> str:
        await asyncio.sleep(0)
        return f"async {request.name}"

    values, cleanups = await DependencyResolver().resolve({"a": fetch}, REQ)
    assert values == {"a": "async req"}
    assert cleanups == []


async def test_sync_factory_returning_a_coroutine_is_awaited() -> None:
    async def inner() -> str:
        return "from coroutine"

    values, _ = await DependencyResolver().resolve({"a": lambda: inner()}, REQ)
    assert values == {"a": "from coroutine"}


class _Awaitable:
    def __await__(self) -> Generator[Any, None, str]:
        yield from asyncio.sleep(0).__await__()
        return "awaited"


async def test_sync_factory_returning_any_awaitable_is_awaited() -> None:
    values, _ = await DependencyResolver().resolve({"a": lambda: _Awaitable()}, REQ)
    assert values == {"a": "awaited"}


async def test_sync_factory_returning_a_future_is_awaited_like_in_0_6_3() -> None:
    future: asyncio.Future[str] = asyncio.get_running_loop().create_future()
    future.set_result("done")

    def factory() -> asyncio.Future[str]:
        return future

    values, _ = await DependencyResolver().resolve({"a": factory}, REQ)
    assert values == {"a": "done"}


# -- generators and cleanup -----------------------------------------------------------------


async def test_generators_are_advanced_and_cleaned_up_in_reverse_order() -> None:
    log: list[str] = []

    def sync_gen(request: FakeRequest) -> Iterator[str]:
        log.append("open sync")
        yield "sync value"
        log.append("close sync")

    async def async_gen() -> AsyncIterator[str]:
        log.append("open async")
        yield "async value"
        log.append("close async")

    values, cleanups = await DependencyResolver().resolve({"s": sync_gen, "a": async_gen}, REQ)
    assert values == {"s": "sync value", "a": "async value"}
    assert len(cleanups) == 2
    assert log == ["open sync", "open async"]
    await DependencyResolver.cleanup(cleanups)
    assert log == ["open sync", "open async", "close async", "close sync"]


async def test_cleanup_resumes_without_throwing_by_default() -> None:
    seen: list[str] = []

    def gen() -> Iterator[int]:
        try:
            yield 1
        except Exception as exc:  # pragma: no cover - must not happen
            seen.append(f"saw {exc!r}")
            raise
        finally:
            seen.append("finally")

    _, cleanups = await DependencyResolver().resolve({"g": gen}, REQ)
    await DependencyResolver.cleanup(cleanups)
    assert seen == ["finally"]


async def test_cleanup_with_an_error_throws_it_in_at_the_yield() -> None:
    seen: list[str] = []

    async def gen() -> AsyncIterator[int]:
        try:
            yield 1
        except LookupError as exc:
            seen.append(f"rollback {exc}")
            raise

    _, cleanups = await DependencyResolver().resolve({"g": gen}, REQ)
    await DependencyResolver.cleanup(cleanups, LookupError("boom"))
    assert seen == ["rollback boom"]


async def test_cleanup_errors_are_logged_and_suppressed(caplog: pytest.LogCaptureFixture) -> None:
    log: list[str] = []

    def first() -> Iterator[str]:
        yield "first"
        log.append("first closed")

    def broken() -> Iterator[str]:
        yield "broken"
        raise ValueError("cleanup failed")

    _, cleanups = await DependencyResolver().resolve({"a": first, "b": broken}, REQ)
    with caplog.at_level(logging.ERROR, logger="fastware.di"):
        await DependencyResolver.cleanup(cleanups)
    assert log == ["first closed"]  # the earlier generator still ran after the failure
    records = [r for r in caplog.records if r.name == "fastware.di"]
    assert len(records) == 1
    assert records[0].levelno == logging.ERROR
    assert records[0].exc_info is not None
    assert isinstance(records[0].exc_info[1], ValueError)


async def test_async_cleanup_errors_are_logged_and_suppressed(
    caplog: pytest.LogCaptureFixture,
) -> None:
    async def broken() -> AsyncIterator[str]:
        yield "broken"
        raise KeyError("nope")

    _, cleanups = await DependencyResolver().resolve({"b": broken}, REQ)
    with caplog.at_level(logging.ERROR, logger="fastware.di"):
        await DependencyResolver.cleanup(cleanups)
    assert any(r.name == "fastware.di" and r.exc_info for r in caplog.records)


async def test_generator_yielding_twice_is_closed_and_cleanup_raises_after_all_ran() -> None:
    log: list[str] = []

    def first() -> Iterator[str]:
        yield "first"
        log.append("first closed")

    def twice() -> Iterator[str]:
        try:
            yield "one"
            yield "two"
            log.append("unreachable")  # pragma: no cover
        finally:
            log.append("twice finally")

    def last() -> Iterator[str]:
        yield "last"
        log.append("last closed")

    _, cleanups = await DependencyResolver().resolve({"a": first, "b": twice, "c": last}, REQ)
    with pytest.raises(RuntimeError, match="must yield exactly once"):
        await DependencyResolver.cleanup(cleanups)
    assert log == ["last closed", "twice finally", "first closed"]


async def test_async_generator_yielding_twice_makes_cleanup_raise() -> None:
    closed: list[bool] = []

    async def twice() -> AsyncIterator[int]:
        try:
            yield 1
            yield 2
        finally:
            closed.append(True)

    _, cleanups = await DependencyResolver().resolve({"t": twice}, REQ)
    with pytest.raises(RuntimeError, match="must yield exactly once"):
        await DependencyResolver.cleanup(cleanups)
    assert closed == [True]


async def test_cleanup_can_be_called_on_an_instance() -> None:
    log: list[str] = []

    def gen() -> Iterator[None]:
        yield None
        log.append("closed")

    resolver = DependencyResolver()
    _, cleanups = await resolver.resolve({"g": gen}, REQ)
    await resolver.cleanup(cleanups)
    assert log == ["closed"]


async def test_generator_that_never_yields_is_an_error() -> None:
    def empty() -> Iterator[int]:
        return
        yield  # pragma: no cover

    with pytest.raises(RuntimeError, match="did not yield"):
        await DependencyResolver().resolve({"e": empty}, REQ)


# -- failures in resolve --------------------------------------------------------------------


async def test_factory_error_cleans_up_earlier_generators_and_propagates() -> None:
    log: list[str] = []

    def opened() -> Iterator[str]:
        log.append("open")
        try:
            yield "value"
        finally:
            log.append("closed")

    def failing() -> str:
        raise LookupError("no such thing")

    def never() -> str:  # pragma: no cover - must not run
        log.append("never")
        return "never"

    with pytest.raises(LookupError, match="no such thing"):
        await DependencyResolver().resolve({"a": opened, "b": failing, "c": never}, REQ)
    assert log == ["open", "closed"]


async def test_http_error_from_a_factory_propagates_unchanged() -> None:
    error = HTTPError(401, "Not authenticated", headers={"WWW-Authenticate": "Bearer"})

    def guard() -> None:
        raise error

    with pytest.raises(HTTPError) as raised:
        await DependencyResolver().resolve({"g": guard}, REQ)
    assert raised.value is error


async def test_unknown_name_needed_by_a_factory_is_a_dependency_error() -> None:
    def needs(*, missing: str) -> str:  # pragma: no cover - never called
        return missing

    with pytest.raises(DependencyError, match="missing") as raised:
        await DependencyResolver().resolve({"a": needs}, REQ)
    assert isinstance(raised.value, FastwareError)
    assert isinstance(raised.value, TypeError)


async def test_factories_get_other_deps_by_name_in_dependency_order() -> None:
    order: list[str] = []

    def service(request: FakeRequest, repo: str, *, db: str) -> str:
        order.append("service")
        return f"service({repo}, {db}, {request.name})"

    def repo(*, db: str) -> str:
        order.append("repo")
        return f"repo({db})"

    def db() -> str:
        order.append("db")
        return "db"

    values, _ = await DependencyResolver().resolve(
        {"service": service, "repo": repo, "db": db}, FakeRequest("r")
    )
    assert values == {"service": "service(repo(db), db, r)", "repo": "repo(db)", "db": "db"}
    assert order == ["db", "repo", "service"]


async def test_cycle_in_resolve_is_a_dependency_error() -> None:
    def a(*, b: str) -> str:  # pragma: no cover - never called
        return b

    def b(*, a: str) -> str:  # pragma: no cover - never called
        return a

    with pytest.raises(DependencyError, match=r"resolve\(\).*cycle"):
        await DependencyResolver().resolve({"a": a, "b": b}, REQ)


# -- per-call caching -----------------------------------------------------------------------


async def test_two_names_bound_to_one_factory_share_one_value_per_call() -> None:
    calls: list[int] = []

    def make() -> object:
        calls.append(1)
        return object()

    resolver = DependencyResolver()
    values, _ = await resolver.resolve({"a": make, "b": make}, REQ)
    assert values["a"] is values["b"]
    assert len(calls) == 1
    again, _ = await resolver.resolve({"a": make}, REQ)
    assert again["a"] is not values["a"]
    assert len(calls) == 2


async def test_caching_is_by_effective_factory_after_overrides() -> None:
    calls: list[str] = []

    def one() -> str:  # pragma: no cover - overridden
        return "one"

    def two() -> str:  # pragma: no cover - overridden
        return "two"

    def shared() -> str:
        calls.append("shared")
        return "shared"

    resolver = DependencyResolver({one: shared, two: shared})
    values, _ = await resolver.resolve({"a": one, "b": two}, REQ)
    assert values == {"a": "shared", "b": "shared"}
    assert calls == ["shared"]


async def test_generator_shared_by_two_names_is_cleaned_up_once() -> None:
    log: list[str] = []

    def gen() -> Iterator[str]:
        log.append("open")
        yield "v"
        log.append("close")

    values, cleanups = await DependencyResolver().resolve({"a": gen, "b": gen}, REQ)
    assert values == {"a": "v", "b": "v"}
    await DependencyResolver.cleanup(cleanups)
    assert log == ["open", "close"]


# -- resources ------------------------------------------------------------------------------


def _one_off() -> Callable[[], int]:
    def factory() -> int:
        return 1

    return factory


async def test_resolve_does_not_keep_one_off_factories_alive() -> None:
    resolver = DependencyResolver()
    factory = _one_off()
    ref = weakref.ref(factory)
    values, cleanups = await resolver.resolve({"x": factory}, REQ)
    await DependencyResolver.cleanup(cleanups)
    assert values == {"x": 1}
    del factory
    gc.collect()
    assert ref() is None
