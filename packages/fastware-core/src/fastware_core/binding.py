"""Reading a typed handler's parameters from each request, with code generated per route.

:mod:`fastware_core.params` reads the signature (:func:`~fastware_core.params.plan_for`);
this module turns the plan into the call the app awaits: a reader per parameter, fetched
sources, exact reads inlined, and straight-line Python compiled once per route, so a request
pays for what its handler declared and nothing else. A handler that declares nothing but the
request keeps its own call.
"""

from __future__ import annotations

import copy
import inspect
import logging
import re
import uuid
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

import msgspec

from . import params as _params
from ._json import decode_json, exceeds_depth
from .exceptions import HTTPError, RouteDefinitionError
from .params import (
    CONVERTER_TYPES,
    MISSING,
    DeclaredParameter,
    InvalidParameter,
    Reader,
    RequestValidationError,
    SignaturePlan,
    Unresolved,
    is_scalar_sequence,
    optional_inner,
    plan_for,
    pydantic_body,
    resolve_annotations,
    strip_annotated,
)
from .request import json_body, json_depth
from .responses import JSONResponse, Response
from .routing import RouteEntry

__all__ = ("bind_call", "bind_parameters")

# -- reading values at request time --------------------------------------------------------


_AT = re.compile(r" - at `\$(.*)`$")
_PATH_PART = re.compile(r"\.([^.\[]+)|\[(\d+)\]")


_MISSING_FIELD = re.compile(r"^Object missing required field `(.*)`$")


def _split_error(exc: msgspec.ValidationError) -> tuple[str, list[Any]]:
    """msgspec's message without its `` - at `$.a[0]` `` suffix, and that path as a list."""
    text = str(exc)
    found = _AT.search(text)
    loc: list[Any] = []
    if found is not None:
        loc = [part if part else int(number) for part, number in _PATH_PART.findall(found.group(1))]
        text = text[: found.start()]
    missing = _MISSING_FIELD.match(text)
    if missing is not None:  # name the field itself, as for query parameters
        loc.append(missing.group(1))
        text = "Field required"
    return text, loc


def _converter(annotation: Any) -> Callable[[Any], Any] | None:
    """A function converting a wire value (str or list of str) to ``annotation``; ``None``
    when the raw value is already right."""
    base, extras = strip_annotated(annotation)
    if base is Any or base is object:
        return None
    if not extras:
        # A wire value is a str, never None: ``T | None`` converts as ``T``.
        plain = optional_inner(base)
        if plain is str:
            return None
        if plain is int:
            return _to_int
        if plain is bool:
            return _to_bool

    def convert(value: Any) -> Any:
        return msgspec.convert(value, annotation, strict=False)

    return convert


def _to_int(value: str) -> int:
    digits = value[1:] if value[:1] in "-+" else value
    if digits.isascii() and digits.isdigit() and len(digits) <= 4300:
        return int(value)
    raise msgspec.ValidationError("Expected `int`, got `str`")


_TRUE = frozenset({"true", "1", "yes", "on"})
_FALSE = frozenset({"false", "0", "no", "off"})


def _to_bool(value: str) -> bool:
    lowered = value.strip().lower()
    if lowered in _TRUE:
        return True
    if lowered in _FALSE:
        return False
    raise msgspec.ValidationError("Expected `bool`, got `str`")


def _fresh(default: Any) -> Callable[[Any], Any] | None:
    """How to hand out a mutable default (a copy per request, so a handler that changes it
    cannot change it for the next request); ``None`` for immutable ones."""
    return copy.copy if isinstance(default, (list, dict, set, bytearray)) else None


def _missing(source: str, key: str) -> InvalidParameter:
    return InvalidParameter([source, key], "Field required", "missing")


def _scalar_reader(
    param: DeclaredParameter, fetch: Callable[[Any, str], Any], blank_is_absent: bool
) -> Reader:
    source, key, default, required = param.source, param.key, param.default, param.required
    fresh = _fresh(default)
    base = optional_inner(strip_annotated(param.annotation)[0])
    blank_absent = blank_is_absent and base is not str
    convert = _converter(param.annotation)

    def read(values: Any) -> Any:
        raw = fetch(values, key)
        if raw is None or (blank_absent and raw == ""):
            if required:
                raise _missing(source, key)
            return default if fresh is None else fresh(default)
        if convert is None:
            return raw
        try:
            return convert(raw)
        except msgspec.ValidationError as exc:
            message, _ = _split_error(exc)
            raise InvalidParameter([source, key], message, "invalid") from None

    return read


def _list_reader(param: DeclaredParameter, fetch_all: Callable[[Any, str], list[str]]) -> Reader:
    source, key, default, required = param.source, param.key, param.default, param.required
    fresh = _fresh(default)
    annotation = param.annotation

    def read(source_values: Any) -> Any:
        values = fetch_all(source_values, key)
        if not values:
            if required:
                raise _missing(source, key)
            return default if fresh is None else fresh(default)
        try:
            return msgspec.convert(values, annotation, strict=False)
        except msgspec.ValidationError as exc:
            message, loc = _split_error(exc)
            raise InvalidParameter([source, key, *loc], message, "invalid") from None

    return read


# Readers of query, header and cookie values get the source (``conn.query_params``,
# ``conn.headers``, ``conn.cookies``), fetched once per request; path readers get
# ``conn.path_params``; body readers (and added sources) get the connection.


def _one(values: Any, key: str) -> Any:
    return values.get(key)


def _many(values: Any, key: str) -> list[str]:
    return list(values.getlist(key))


def _cookie_all(cookies: Any, key: str) -> list[str]:
    value = cookies.get(key)
    return [] if value is None else [value]


def _path_reader(param: DeclaredParameter, converter: str | None) -> Reader:
    key = param.key
    wanted = CONVERTER_TYPES.get(converter or "str")
    base, extras = strip_annotated(param.annotation)
    if not extras and (base is wanted or base is Any):

        def read_path(path_params: Any) -> Any:
            return path_params[key]

        return read_path

    annotation = param.annotation

    def read_converted(path_params: Any) -> Any:
        value = path_params[key]
        try:
            return msgspec.convert(
                str(value) if isinstance(value, uuid.UUID) else value, annotation, strict=False
            )
        except msgspec.ValidationError as exc:
            message, _ = _split_error(exc)
            raise InvalidParameter(["path", key], message, "invalid") from None

    return read_converted


def _body_reader(param: DeclaredParameter) -> Reader:
    pydantic = pydantic_body(param.annotation)
    if pydantic is not None:
        return _pydantic_body_reader(param, *pydantic)
    decoder = msgspec.json.Decoder(param.annotation)
    required, default = param.required, param.default
    fresh = _fresh(default)

    def read_body(request: Any) -> Any:
        body = json_body(request)  # 415, exactly as request.json_as
        if body is None:
            if required:
                raise InvalidParameter(["body"], "Field required", "missing")
            return default if fresh is None else fresh(default)
        max_depth = json_depth(request)
        if exceeds_depth(body, max_depth):
            raise HTTPError(400, f"JSON nested deeper than {max_depth} levels")
        try:
            return decoder.decode(body)
        except msgspec.ValidationError as exc:
            message, loc = _split_error(exc)
            kind = "missing" if message == "Field required" else "invalid"
            raise InvalidParameter(["body", *loc], message, kind) from None
        except Exception:
            decode_json(body, max_depth=max_depth)  # raises the 400 request.json gives
            raise  # pragma: no cover - decode_json accepted what the typed decoder refused

    return read_body


def _pydantic_body_reader(param: DeclaredParameter, model: Any, many: bool) -> Reader:
    """A JSON body validated by a pydantic model's ``model_validate`` (what ``json_as``
    does), or each item of a JSON array when ``many``: 400 for malformed JSON, 422 naming
    the first field pydantic refused."""
    validate = model.model_validate
    required, default = param.required, param.default
    fresh = _fresh(default)

    def read_body(request: Any) -> Any:
        body = json_body(request)  # 415, exactly as request.json_as
        if body is None:
            if required:
                raise InvalidParameter(["body"], "Field required", "missing")
            return default if fresh is None else fresh(default)
        data = decode_json(body, max_depth=json_depth(request))  # 400 for malformed JSON
        if not many:
            try:
                return validate(data)
            except ValueError as exc:  # pydantic's ValidationError is a ValueError
                raise _pydantic_problem(exc, ["body"]) from None
        if not isinstance(data, list):
            raise InvalidParameter(["body"], "Input should be a valid list", "invalid")
        items = []
        for index, item in enumerate(data):
            try:
                items.append(validate(item))
            except ValueError as exc:
                raise _pydantic_problem(exc, ["body", index]) from None
        return items

    return read_body


def _pydantic_problem(exc: ValueError, where: list[Any]) -> InvalidParameter:
    """The first error of a pydantic ``ValidationError``, located under ``where``."""
    list_errors = getattr(exc, "errors", None)
    errors = list_errors() if callable(list_errors) else None
    if not errors:
        return InvalidParameter(where, str(exc), "invalid")
    first = errors[0]
    kind = "missing" if first.get("type") == "missing" else "invalid"
    loc = [part for part in first.get("loc", ()) if part != "__root__"]
    return InvalidParameter([*where, *loc], str(first.get("msg", "Invalid value")), kind)


_SEQUENCE_TYPES = (
    msgspec.inspect.ListType,
    msgspec.inspect.SetType,
    msgspec.inspect.FrozenSetType,
    msgspec.inspect.VarTupleType,
)


def _form_reader(param: DeclaredParameter) -> Reader:
    """``await request.form()`` decoded into the parameter's type (:func:`~.params.Form`)."""
    annotation = param.annotation
    fields = getattr(msgspec.inspect.type_info(annotation), "fields", None) or ()
    repeated = frozenset(f.encode_name for f in fields if isinstance(f.type, _SEQUENCE_TYPES))
    required, default = param.required, param.default
    fresh = _fresh(default)

    async def read_form(request: Any) -> Any:
        if not required and request.headers.get("content-type") is None:
            return default if fresh is None else fresh(default)
        form = await request.form()  # 415 for a body that is not a form, 413/400 past limits
        values: dict[str, Any] = {}
        for key, value in form.multi_items():
            if key in repeated:
                values.setdefault(key, []).append(value)
            else:
                values.setdefault(key, value)  # the first of repeated single values
        try:
            return msgspec.convert(values, annotation, strict=False)
        except msgspec.ValidationError as exc:
            message, loc = _split_error(exc)
            kind = "missing" if message == "Field required" else "invalid"
            raise InvalidParameter(["body", *loc], message, kind) from None

    return read_form


def _reader(param: DeclaredParameter, path_names: Mapping[str, str | None]) -> Reader:
    """The reader of one parameter; what it is given depends on the source (see above)."""
    source = param.source
    if source == "path":
        return _path_reader(param, path_names.get(param.key))
    if source == "body":
        return _body_reader(param)
    if source == "form":
        return _form_reader(param)
    if source in ("query", "header", "cookie"):
        if not is_scalar_sequence(param.annotation):
            return _scalar_reader(param, _one, True)
        return _list_reader(param, _cookie_all if source == "cookie" else _many)
    return _params.READERS[source](param)


# What a reader of each source is given, as an expression of the generated call.
_SOURCE_VALUES = {
    "path": "conn.path_params",
    "query": "conn.query_params",
    "header": "conn.headers",
    "cookie": "conn.cookies",
}
_FETCHED = frozenset({"path", "query", "cookie"})  # header values are read one by one


def _scalar_inlinable(param: DeclaredParameter) -> bool:
    return (
        param.source in ("query", "header", "cookie")
        and not is_scalar_sequence(param.annotation)
        and _fresh(param.default) is None
    )


def _scalar_lines(param: DeclaredParameter, namespace: dict[str, Any]) -> list[str]:
    """Generated code reading one query, header or cookie value (what :func:`_scalar_reader`
    does, without its calls)."""
    name, source, key = param.name, param.source, repr(param.key)
    fetch = {
        "query": f"query.get({key})",
        "cookie": f"cookie.get({key})",
        "header": f"conn.header({key})",
    }[source]
    base = optional_inner(strip_annotated(param.annotation)[0])
    absent = "raw is None" if base is str else 'raw is None or raw == ""'
    convert = _converter(param.annotation)
    namespace[f"convert_{name}"] = convert
    lines = [f"    raw = {fetch}", f"    if {absent}:"]
    if param.required:
        lines += [
            f"        value_{name} = None",
            f"        problems = add_problem(problems, missing({source!r}, {key}))",
        ]
    else:
        lines.append(f"        value_{name} = default_{name}")
    lines.append("    else:")
    if convert is None:
        lines.append(f"        value_{name} = raw")
    else:
        lines += [
            "        try:",
            f"            value_{name} = convert_{name}(raw)",
            "        except ValidationError as exc:",
            f"            value_{name} = None",
            f"            problems = add_problem(problems, invalid({source!r}, {key}, exc))",
        ]
    return lines


def _invalid_value(source: str, key: str, exc: msgspec.ValidationError) -> InvalidParameter:
    message, _ = _split_error(exc)
    return InvalidParameter([source, key], message, "invalid")


def _inline(param: DeclaredParameter, path_names: Mapping[str, str | None]) -> str | None:
    """An expression reading ``param`` without a reader call, when one is exact: a path value
    the router already converted, an optional ``str`` query value without constraints."""
    base, extras = strip_annotated(param.annotation)
    if extras or (param.marker is not None and param.marker.meta is not None):
        return None
    if param.source == "path":
        wanted = CONVERTER_TYPES.get(path_names.get(param.key) or "str")
        return f"path[{param.key!r}]" if base is wanted else None
    if param.source == "query" and base is str and not param.required:
        return f"query.get({param.key!r}, default_{param.name})"
    return None


# -- the call the app awaits ----------------------------------------------------------------


def _finisher(entry: RouteEntry, returned: Any) -> Callable[[Any], Any] | None:
    """What turns the handler's result into the answer: ``status_code=`` and, with
    ``validate_response=True``, a conversion to the return annotation; ``None`` when the
    result goes to the app as it is.

    Raises:
        RouteDefinitionError: ``validate_response=True`` without a usable return annotation.
    """
    status = entry.options.get("status_code", 200)
    target: Any = None
    if entry.options.get("validate_response"):
        target = returned
        if target is MISSING or target is None or isinstance(target, Unresolved):
            raise RouteDefinitionError(
                f"Route {entry.method} {entry.path}: validate_response=True needs a return "
                "annotation msgspec can convert to"
            )
        try:
            msgspec.json.schema(target)
        except (TypeError, ValueError) as exc:
            raise RouteDefinitionError(
                f"Route {entry.method} {entry.path}: cannot validate responses as {target!r}: {exc}"
            ) from None
    if status == 200 and target is None:
        return None
    label = f"{entry.method} {entry.path}"

    def finish(result: Any) -> Any:
        if isinstance(result, Response):
            return result
        if target is not None:
            try:
                result = msgspec.convert(result, target, from_attributes=True)
            except msgspec.ValidationError as exc:
                logging.getLogger("fastware").error(
                    "Response of %s does not match its return annotation: %s", label, exc
                )
                raise HTTPError(500, f"Response does not match its declared type: {exc}") from None
        if status == 200:
            return result
        if result is None and status in (204, 304):
            return _Empty(status)
        return JSONResponse(result, status)

    return finish


class _Empty(Response):
    """An answer without a body (``status_code=204`` and the handler returned ``None``)."""

    __slots__ = ()

    def __init__(self, status: int) -> None:
        self.status = status
        self._headers = None
        self._cookies = None

    def render(self) -> tuple[str, bytes]:
        return "", b""

    def rendered(self) -> tuple[int, str, bytes, list[tuple[str, str]] | None]:
        return self.status, "", b"", None


def bind_call(
    plan: SignaturePlan,
    entry: RouteEntry,
    call: Callable[..., Awaitable[Any]],
) -> Callable[..., Awaitable[Any]]:
    """The call the app (or an injector, with its own keyword values) awaits as
    ``await bound(connection, **injected)``: reads the declared values, then runs ``call``
    (``bound`` is a plain function returning ``call``'s awaitable when it has nothing to
    await itself; invalid values raise before anything is awaited).
    """
    path_names = {s.value: s.converter for s in entry.segments if s.converter is not None}
    namespace: dict[str, Any] = {
        "call": call,
        "Invalid": InvalidParameter,
        "ValidationError": msgspec.ValidationError,
        "missing": _missing,
        "invalid": _invalid_value,
        "add_problem": _add_problem,
        "RequestValidationError": RequestValidationError,
        "finish": _finisher(entry, plan.return_annotation),
    }
    # Straight-line code, generated once per route: each source's values are fetched once,
    # exact reads are inlined, the others call their reader; every problem is collected.
    body: list[str] = []
    fetched: set[str] = set()
    arguments: list[str] = []
    for param in plan.parameters:
        name = param.name
        source = param.source
        namespace[f"default_{name}"] = param.default
        expression = _inline(param, path_names)
        if expression is not None:
            fetched.add(source)
            body.append(f"    value_{name} = {expression}")
        elif _scalar_inlinable(param):
            fetched.add(source)
            body += _scalar_lines(param, namespace)
        else:
            namespace[f"read_{name}"] = _reader(param, path_names)
            given = source if source in _SOURCE_VALUES else "conn"
            fetched.add(given)
            wait = "await " if source in _params.ASYNC_SOURCES else ""
            body += [
                "    try:",
                f"        value_{name} = {wait}read_{name}({given})",
                "    except Invalid as exc:",
                f"        value_{name} = None",
                "        problems = add_problem(problems, exc)",
            ]
        arguments.append(f"{name}=value_{name}")
    prologue = ["    problems = None"]
    prologue += [f"    {src} = {_SOURCE_VALUES[src]}" for src in sorted(fetched & _FETCHED)]
    body = prologue + body
    body += ["    if problems is not None:", "        raise RequestValidationError(problems)"]
    if plan.connection_positional:
        arguments.insert(0, "conn")
    elif plan.connection is not None:
        arguments.append(f"{plan.connection}=conn")
    arguments.append("**values")
    if namespace["finish"] is None and not any(
        p.source in _params.ASYNC_SOURCES for p in plan.parameters
    ):
        # Nothing to await here: hand the handler's coroutine to the app, one frame fewer.
        body.append(f"    return call({', '.join(arguments)})")
        header = "def bound(conn, **values):"
    else:
        body.append(f"    result = await call({', '.join(arguments)})")
        body.append("    return finish(result)" if namespace["finish"] else "    return result")
        header = "async def bound(conn, **values):"
    source_text = header + "\n" + "\n".join(body) + "\n"
    exec(compile(source_text, f"<parameters of {entry.method} {entry.path}>", "exec"), namespace)
    bound: Callable[..., Awaitable[Any]] = namespace["bound"]
    bound.__wrapped__ = entry.handler  # type: ignore[attr-defined]
    return bound


def _add_problem(
    problems: list[dict[str, Any]] | None, exc: InvalidParameter
) -> list[dict[str, Any]]:
    if problems is None:
        problems = []
    problems.append(exc.problem)
    return problems


def bind_parameters(
    entry: RouteEntry,
    websocket: bool,
    injected: Callable[[inspect.Parameter], bool] | None = None,
) -> RouteEntry:
    """``entry`` awaiting a call that fills its declared parameters (``entry`` itself when
    the handler declares none and its route sets no status).

    Raises:
        RouteDefinitionError: for a signature the app cannot satisfy.
    """
    plan = plan_for(entry, websocket=websocket, injected=injected)
    if plan is None:
        options = entry.options
        if websocket or (
            options.get("status_code", 200) == 200 and not options.get("validate_response")
        ):
            return entry
        signature = resolve_annotations(entry.handler)
        returned = signature.return_annotation if signature is not None else MISSING
        plan = SignaturePlan([], "request", True, returned)
    bound = bind_call(plan, entry, entry.call)
    return entry.with_call(bound, bound=frozenset(p.name for p in plan.parameters))
