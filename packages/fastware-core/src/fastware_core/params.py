"""Typed handler parameters: what a handler declares in its signature, read from the request.

A handler may ask for path, query, header and cookie values and a JSON body by declaring
parameters; fastware reads the signature once, when the app compiles its routes, and builds
one small reader per parameter. At request time the readers run in order, every problem is
collected, and the handler is called with the converted values::

    class NewItem(msgspec.Struct):
        name: str
        price: float

    @router.post("/shops/{shop_id:int}/items", status_code=201)
    async def add_item(
        shop_id: int,                                  # path
        item: NewItem,                                 # JSON body (a Struct)
        limit: Annotated[int, Query(ge=1, le=100)] = 10,
        tags: list[str] = [],                          # ?tags=a&tags=b
        x_token: Annotated[str | None, Header()] = None,
    ) -> Item: ...

Invalid values answer 422 with ``{"detail": [{"loc": ["query", "limit"], "msg": ...,
"type": ...}, ...]}``; a malformed JSON body stays 400 and a body that is not JSON 415
(the checks of ``request.json_as``). A signature the app cannot satisfy raises
:class:`~fastware_core.exceptions.RouteDefinitionError` at ``create_app`` naming the route and
the parameter. A handler that declares nothing but the request (0.6.3's ``async def
handler(request)``) is called exactly as before, at no cost.

This module reads signatures (:func:`plan_for`); :mod:`fastware_core.binding` turns a plan
into the call the app awaits. Adding a parameter source: give it a marker (a :class:`Param`
subclass with its ``source``) and a reader builder in :data:`READERS`; a source whose reader
awaits goes in :data:`ASYNC_SOURCES`, one read from the body in :data:`BODY_SOURCES` (as
the ``form`` source of :func:`Form` does, with its reader in :mod:`fastware_core.binding`).
"""

from __future__ import annotations

import dataclasses
import datetime
import decimal
import enum
import inspect
import logging
import re
import types
import typing
import uuid
from collections.abc import Callable, Iterator
from typing import Annotated, Any, Literal, Union, get_args, get_origin

import msgspec
import msgspec.inspect

from .exceptions import HTTPError, RouteDefinitionError
from .routing import RouteEntry

__all__ = (
    "Body",
    "BodyParam",
    "Cookie",
    "CookieParam",
    "Form",
    "FormParam",
    "Header",
    "HeaderParam",
    "Param",
    "Path",
    "PathParam",
    "Query",
    "QueryParam",
    "RequestValidationError",
    "SignaturePlan",
    "plan_for",
)

MISSING: Any = inspect.Parameter.empty

_SCALARS: tuple[type, ...] = (
    str,
    int,
    float,
    bool,
    bytes,
    decimal.Decimal,
    uuid.UUID,
    datetime.datetime,
    datetime.date,
    datetime.time,
    datetime.timedelta,
)
_SEQUENCES = (list, set, frozenset, tuple)
CONVERTER_TYPES: dict[str, Any] = {"int": int, "float": float, "uuid": uuid.UUID, "str": str}


class Param:
    """Where a parameter's value comes from, and what it must satisfy.

    Made by :func:`Query`, :func:`Path`, :func:`Header`, :func:`Cookie` and :func:`Body`,
    used in ``Annotated`` (``Annotated[int, Query(ge=1)]``) or as the default
    (``limit: int = Query(10, ge=1)``). The constraints are msgspec's (``msgspec.Meta``), so
    they are checked while converting and appear in the OpenAPI schema.
    """

    source: typing.ClassVar[str] = ""

    __slots__ = ("alias", "default", "deprecated", "description", "include_in_schema", "meta")

    def __init__(
        self,
        default: Any = MISSING,
        *,
        alias: str | None = None,
        description: str | None = None,
        deprecated: bool = False,
        include_in_schema: bool = True,
        title: str | None = None,
        examples: list[Any] | None = None,
        gt: float | None = None,
        ge: float | None = None,
        lt: float | None = None,
        le: float | None = None,
        multiple_of: float | None = None,
        min_length: int | None = None,
        max_length: int | None = None,
        pattern: str | None = None,
    ) -> None:
        self.default = default
        """The value when the request does not carry one (absent: required)."""
        self.alias = alias
        """The name on the wire, when it differs from the parameter's."""
        self.description = description
        """Shown in the OpenAPI document."""
        self.deprecated = deprecated
        """Marked deprecated in the OpenAPI document."""
        self.include_in_schema = include_in_schema
        """``False`` leaves the parameter out of the OpenAPI document."""
        constraints = {
            "gt": gt,
            "ge": ge,
            "lt": lt,
            "le": le,
            "multiple_of": multiple_of,
            "min_length": min_length,
            "max_length": max_length,
            "pattern": pattern,
            "title": title,
            "examples": examples,
            "description": description,
        }
        given = {k: v for k, v in constraints.items() if v is not None}
        make_meta: Any = msgspec.Meta  # its overloads cannot take a built dict
        self.meta: msgspec.Meta | None = make_meta(**given) if given else None
        """The constraints as ``msgspec.Meta`` (``None`` without any)."""

    def __repr__(self) -> str:
        return f"{type(self).__name__}(alias={self.alias!r})"


class QueryParam(Param):
    """A query-string parameter (``?limit=10``); a list type takes every repeated value."""

    source = "query"
    __slots__ = ()


class PathParam(Param):
    """A path parameter (``/users/{user_id}``), matched by name (or ``alias``)."""

    source = "path"
    __slots__ = ()


class HeaderParam(Param):
    """A request header; ``x_token`` reads ``x-token`` unless ``convert_underscores=False``."""

    source = "header"
    __slots__ = ("convert_underscores",)

    def __init__(
        self, default: Any = MISSING, *, convert_underscores: bool = True, **kw: Any
    ) -> None:
        super().__init__(default, **kw)
        self.convert_underscores = convert_underscores
        """Whether ``_`` in the parameter name becomes ``-`` in the header name."""


class CookieParam(Param):
    """A cookie sent by the client."""

    source = "cookie"
    __slots__ = ()


class BodyParam(Param):
    """The JSON request body (a Struct, dataclass, TypedDict, dict or list of them);
    a parameter typed that way needs no marker. ``media_type`` is what the OpenAPI
    document declares."""

    source = "body"
    __slots__ = ("media_type",)

    def __init__(
        self, default: Any = MISSING, *, media_type: str = "application/json", **kw: Any
    ) -> None:
        super().__init__(default, **kw)
        self.media_type = media_type
        """The documented Content-Type of the body."""


class FormParam(Param):
    """The form body (URL-encoded or ``multipart/form-data``) as one typed object: a Struct,
    dataclass, TypedDict or ``dict`` whose fields are the form's fields. A file field is typed
    :class:`~fastware_core.forms.UploadFile`; a list field takes every repeated value."""

    source = "form"
    __slots__ = ("media_type",)

    def __init__(
        self, default: Any = MISSING, *, media_type: str = "multipart/form-data", **kw: Any
    ) -> None:
        super().__init__(default, **kw)
        self.media_type = media_type
        """The documented Content-Type of the body."""


def Query(default: Any = MISSING, *, alias: str | None = None, **constraints: Any) -> Any:
    """A query-string parameter: ``Annotated[int, Query(ge=1)]`` or ``= Query(10, ge=1)``.

    A list type (``list[int]``) takes every repeated value. ``constraints`` are those of
    :class:`Param` (``ge``, ``max_length``, ``pattern``, ``description``, ...).
    """
    return QueryParam(default, alias=alias, **constraints)


def Path(*, alias: str | None = None, **constraints: Any) -> Any:
    """A path parameter with constraints (``Annotated[int, Path(ge=1)]``); a parameter named
    like a path parameter needs no marker."""
    return PathParam(alias=alias, **constraints)


def Header(
    default: Any = MISSING,
    *,
    alias: str | None = None,
    convert_underscores: bool = True,
    **constraints: Any,
) -> Any:
    """A request header: ``x_token: Annotated[str, Header()]`` reads ``x-token``."""
    return HeaderParam(default, alias=alias, convert_underscores=convert_underscores, **constraints)


def Cookie(default: Any = MISSING, *, alias: str | None = None, **constraints: Any) -> Any:
    """A cookie: ``session: Annotated[str | None, Cookie()] = None``."""
    return CookieParam(default, alias=alias, **constraints)


def Body(
    default: Any = MISSING, *, media_type: str = "application/json", **constraints: Any
) -> Any:
    """The JSON body, for a type that would otherwise be read from the query (``dict`` and
    model types need no marker)."""
    return BodyParam(default, media_type=media_type, **constraints)


def Form(
    default: Any = MISSING, *, media_type: str = "multipart/form-data", **constraints: Any
) -> Any:
    """The form body as one typed object: ``signup: Annotated[Signup, Form()]`` decodes
    ``await request.form()`` into the Struct ``Signup`` (422 listing each bad field; 415 for a
    body that is not a form). ``media_type`` is what the OpenAPI document declares."""
    return FormParam(default, media_type=media_type, **constraints)


class RequestValidationError(HTTPError):
    """422: request values that do not fit the handler's signature.

    ``detail`` lists every problem: ``{"loc": [source, name, ...], "msg": ..., "type": ...}``.
    """

    def __init__(self, problems: list[dict[str, Any]]) -> None:
        super().__init__(422, _Problems(problems))
        self.problems = problems
        """The problems, in the order of the handler's parameters."""


class _Problems(list[dict[str, Any]]):
    """The 422 detail: a JSON list, and one line of text where a text is needed (the close
    reason of a WebSocket refused for its parameters)."""

    def __str__(self) -> str:
        return "; ".join(
            ".".join(str(part) for part in problem["loc"]) + ": " + str(problem["msg"])
            for problem in self
        )


class InvalidParameter(Exception):
    """One parameter's problem, raised by a reader and collected by the bound call."""

    def __init__(self, loc: list[Any], msg: str, kind: str) -> None:
        self.problem = {"loc": loc, "msg": msg, "type": kind}


# -- what the handler declared --------------------------------------------------------------


@dataclasses.dataclass(slots=True)
class DeclaredParameter:
    """One handler parameter the app fills from the request (what OpenAPI documents)."""

    name: str
    """The Python parameter name."""
    source: str
    """``path``, ``query``, ``header``, ``cookie`` or ``body``."""
    key: str
    """The name on the wire (header names in lower case)."""
    annotation: Any
    """The declared type (without the marker), constraints folded into ``Annotated``."""
    required: bool
    """Whether the request must carry it."""
    default: Any
    """The default when not required."""
    marker: Param | None
    """The marker it was declared with, if any."""


@dataclasses.dataclass(slots=True)
class SignaturePlan:
    """What the app read from a handler's signature, once, at compile time."""

    parameters: list[DeclaredParameter]
    """Parameters filled from the request, in signature order."""
    connection: str | None
    """The parameter receiving the Request/WebSocket, or ``None``."""
    connection_positional: bool
    """Whether the connection is passed first, positionally (else by keyword)."""
    return_annotation: Any
    """The declared return type (``inspect.Parameter.empty`` when none)."""


def strip_annotated(annotation: Any) -> tuple[Any, list[Any]]:
    if get_origin(annotation) is Annotated:
        args = get_args(annotation)
        return args[0], list(args[1:])
    return annotation, []


def _is_connection_type(annotation: Any) -> bool:
    from .request import Request
    from .websocket import WebSocket

    base, _ = strip_annotated(annotation)
    return isinstance(base, type) and issubclass(base, (Request, WebSocket))


def optional_inner(annotation: Any) -> Any:
    """``T`` for ``T | None`` (the type to classify), else the annotation."""
    origin = get_origin(annotation)
    if origin is Union or origin is types.UnionType:
        args = [a for a in get_args(annotation) if a is not type(None)]
        if len(args) == 1:
            return args[0]
    return annotation


def pydantic_model(annotation: Any) -> Any:
    """The pydantic model (any class with a callable ``model_validate``) that
    ``annotation`` names, ``Annotated`` and ``| None`` aside; else ``None``."""
    base = optional_inner(strip_annotated(annotation)[0])
    if isinstance(base, type) and callable(getattr(base, "model_validate", None)):
        return base
    return None


def pydantic_body(annotation: Any) -> tuple[Any, bool] | None:
    """``(model, many)`` when ``annotation`` (``| None`` aside) is a pydantic model
    (``many`` false) or a ``list`` of one (``many`` true); else ``None``."""
    base = optional_inner(strip_annotated(annotation)[0])
    model = pydantic_model(base)
    if model is not None:
        return model, False
    if get_origin(base) is list:
        args = get_args(base)
        if len(args) == 1 and (model := pydantic_model(args[0])) is not None:
            return model, True
    return None


def _plain_classes(info: Any, seen: set[int] | None = None) -> Iterator[type]:
    """The classes msgspec would need a ``dec_hook`` for, anywhere in a type's
    ``msgspec.inspect`` tree (recursive types visited once)."""
    seen = set() if seen is None else seen
    if id(info) in seen:
        return
    seen.add(id(info))
    if isinstance(info, msgspec.inspect.CustomType):
        yield info.cls
        return
    for name in ("item_type", "key_type", "value_type", "type"):
        inner = getattr(info, name, None)
        if isinstance(inner, msgspec.inspect.Type):
            yield from _plain_classes(inner, seen)
    for name in ("types", "item_types"):
        for inner in getattr(info, name, None) or ():
            yield from _plain_classes(inner, seen)
    for field in getattr(info, "fields", None) or ():
        yield from _plain_classes(field.type, seen)


def _is_model(annotation: Any, top: bool = True) -> bool:
    if top and pydantic_body(annotation) is not None:
        return True
    base, _ = strip_annotated(annotation)
    base = optional_inner(base)
    if pydantic_model(base) is not None:
        return False  # inside anything but a list, msgspec would have to decode it
    origin = get_origin(base)
    if origin in (list, tuple, set, frozenset):
        args = [a for a in get_args(base) if a is not Ellipsis]
        return bool(args) and all(_is_model(a, top=False) for a in args)
    if origin is dict or base is dict:
        return True
    if not isinstance(base, type):
        return False
    return (
        issubclass(base, msgspec.Struct)
        or dataclasses.is_dataclass(base)
        or typing.is_typeddict(base)
        or (issubclass(base, tuple) and hasattr(base, "_fields"))  # NamedTuple
    )


def _is_scalar(annotation: Any) -> bool:
    base, _ = strip_annotated(annotation)
    if base is Any or base is object:
        return True
    origin = get_origin(base)
    if origin is Literal:
        return True
    if origin is Union or origin is types.UnionType:
        return all(a is type(None) or _is_scalar(a) for a in get_args(base))
    return isinstance(base, type) and (issubclass(base, _SCALARS) or issubclass(base, enum.Enum))


def is_scalar_sequence(annotation: Any) -> bool:
    base, _ = strip_annotated(optional_inner(strip_annotated(annotation)[0]))
    origin = get_origin(base)
    if origin in _SEQUENCES:
        args = [a for a in get_args(base) if a is not Ellipsis]
        return all(_is_scalar(a) for a in args)
    return base in _SEQUENCES


def resolve_annotations(handler: Callable[..., Any]) -> inspect.Signature | None:
    try:
        signature = inspect.signature(handler)
    except (TypeError, ValueError):
        return None
    target = inspect.unwrap(handler)
    while hasattr(target, "func") and not inspect.isfunction(target):  # functools.partial
        target = target.func
    namespace = getattr(target, "__globals__", None)
    if not isinstance(namespace, dict):
        module = inspect.getmodule(target)
        namespace = vars(module) if module is not None else {}
    params = []
    for param in signature.parameters.values():
        if isinstance(param.annotation, str):
            try:
                param = param.replace(annotation=eval(param.annotation, namespace))
            except Exception:
                param = param.replace(annotation=Unresolved(param.annotation))
        params.append(param)
    returned = signature.return_annotation
    if isinstance(returned, str):
        try:
            returned = eval(returned, namespace)
        except Exception:
            returned = inspect.Parameter.empty
    return signature.replace(parameters=params, return_annotation=returned)


# What an unresolved first-parameter annotation is expected to name: the connection.
_CONNECTION_NAME = re.compile(r"Request|WebSocket|Connection")


class Unresolved:
    __slots__ = ("text",)

    def __init__(self, text: str) -> None:
        self.text = text


def _marker_of(param: inspect.Parameter) -> tuple[Any, Param | None]:
    """``(annotation without the marker, the marker)``."""
    if isinstance(param.default, Param):
        return param.annotation, param.default
    base, extras = strip_annotated(param.annotation)
    markers = [e for e in extras if isinstance(e, Param)]
    if not markers:
        return param.annotation, None
    rest = [e for e in extras if not isinstance(e, Param)]
    annotation = Annotated[(base, *rest)] if rest else base
    return annotation, markers[-1]


def plan_for(
    entry: RouteEntry,
    *,
    websocket: bool,
    injected: Callable[[inspect.Parameter], bool] | None = None,
) -> SignaturePlan | None:
    """Read ``entry``'s handler signature: ``None`` when it declares nothing to fill.

    ``injected(parameter)`` tells the parameters an injector fills (fastware-di's
    ``Depends`` markers); names in ``entry.deps`` are the injector's too.

    Raises:
        RouteDefinitionError: naming the route and the parameter the app cannot fill.
    """
    label = f"WebSocket {entry.path}" if websocket else f"{entry.method} {entry.path}"
    signature = resolve_annotations(entry.handler)
    if signature is None:
        return None
    path_names = {s.value: s.converter for s in entry.segments if s.converter is not None}
    deps = entry.deps or {}
    params = list(signature.parameters.values())
    declared: list[DeclaredParameter] = []
    connection: str | None = None
    positional = False
    body_seen: str | None = None

    def fail(param: inspect.Parameter, why: str) -> RouteDefinitionError:
        name = getattr(entry.handler, "__qualname__", repr(entry.handler))
        return RouteDefinitionError(f"Route {label}: parameter {param.name!r} of {name} {why}")

    for index, param in enumerate(params):
        kind = param.kind
        if kind is inspect.Parameter.VAR_KEYWORD:
            continue
        if kind is inspect.Parameter.VAR_POSITIONAL:
            if index == 0:  # 0.6.3: handler(*args) receives the request
                connection, positional = param.name, True
            continue
        annotation, marker = _marker_of(param)
        is_first = index == 0 and kind is not inspect.Parameter.KEYWORD_ONLY
        if marker is None and _is_connection_type(annotation):
            if connection is not None:
                raise fail(param, "is a second Request/WebSocket parameter")
            connection = param.name
            positional = is_first
            if kind is inspect.Parameter.POSITIONAL_ONLY and not is_first:
                raise fail(param, "takes the connection but cannot be passed by keyword")
            continue
        if param.name in deps or (injected is not None and injected(param)):
            continue
        unannotated = annotation is MISSING or isinstance(annotation, Unresolved)
        if (
            is_first
            and marker is None
            and connection is None
            and param.name not in path_names
            and param.default is MISSING
            and (unannotated or annotation is Any or annotation is object)
        ):
            # 0.6.3: the first positional parameter receives the request, whatever its name.
            connection, positional = param.name, True
            if isinstance(annotation, Unresolved) and not _CONNECTION_NAME.search(annotation.text):
                logging.getLogger("fastware").warning(
                    "%s; as the first parameter it receives the request, as in fastware "
                    "0.6.3 (make the names it uses importable at runtime if it is meant to "
                    "be something else)",
                    fail(
                        param, f"has an annotation fastware cannot evaluate ({annotation.text!r})"
                    ),
                )
            continue
        if kind is inspect.Parameter.POSITIONAL_ONLY:
            raise fail(param, "is positional-only, so it cannot be passed by name")
        if isinstance(annotation, Unresolved):
            raise fail(
                param,
                f"has an annotation fastware cannot evaluate ({annotation.text!r}); make the "
                "names it uses importable at runtime",
            )
        if annotation is MISSING:
            annotation = str
        default = param.default
        if marker is not None:
            source = marker.source
            if marker.default is not MISSING:
                default = marker.default
            elif isinstance(param.default, Param):
                default = MISSING
        elif param.name in path_names:
            source = "path"
        elif _is_model(annotation):
            source = "body"
        else:
            source = "query"
        if source == "path":
            key = marker.alias if marker is not None and marker.alias else param.name
            if key not in path_names:
                raise fail(param, f"reads path parameter {key!r}, which {entry.path} lacks")
            if default is not MISSING:
                raise fail(param, "is a path parameter and cannot have a default")
        elif source in BODY_SOURCES:
            if websocket:
                raise fail(param, "asks for a request body, which WebSocket routes do not have")
            if body_seen is not None:
                raise fail(param, f"is a second body parameter (after {body_seen!r})")
            body_seen = param.name
            key = param.name
            if source != "body" and pydantic_body(annotation) is not None:
                raise fail(
                    param,
                    "is a pydantic model read from a form; forms decode into msgspec types "
                    "(a Struct, dataclass or TypedDict), or call model_validate on "
                    "await request.form() yourself",
                )
            if pydantic_body(annotation) is None:  # pydantic models validate themselves
                try:
                    msgspec.json.Decoder(annotation)  # form models are msgspec types too
                except (TypeError, ValueError) as exc:
                    raise fail(param, f"has a type msgspec cannot decode: {exc}") from None
                # classes msgspec would refuse every request's value of (forms take
                # UploadFile fields, the one plain class their reader fills itself)
                for plain in _plain_classes(msgspec.inspect.type_info(annotation)):
                    if pydantic_model(plain) is not None:
                        raise fail(
                            param,
                            f"holds pydantic model {plain.__qualname__} in a container other "
                            "than a list; a body can be a pydantic model or a list of them",
                        )
                    if source == "body":
                        raise fail(
                            param,
                            f"has a type msgspec cannot decode from JSON: "
                            f"{plain.__qualname__} is a plain class (use a Struct, dataclass "
                            "or TypedDict for it, or make the whole body one pydantic model)",
                        )
        elif source in ("query", "header", "cookie"):
            if not (_is_scalar(annotation) or is_scalar_sequence(annotation)):
                raise fail(
                    param,
                    f"is read from the {source} but its type {annotation!r} is not a scalar "
                    "or a list of scalars (a body must be a Struct, dataclass, TypedDict, "
                    "dict or list of them, or a pydantic model; an injected value needs "
                    "Depends(...) or deps=, "
                    f"deps: {', '.join(map(repr, deps)) or 'none'})",
                )
            key = marker.alias if marker is not None and marker.alias else param.name
            if source == "header":
                convert = not isinstance(marker, HeaderParam) or marker.convert_underscores
                if marker is None or not marker.alias:
                    key = key.replace("_", "-") if convert else key
                key = key.lower()
        elif source in READERS:
            key = marker.alias if marker is not None and marker.alias else param.name
        else:
            raise fail(param, f"has an unknown source {source!r}")
        if marker is not None and marker.meta is not None:
            annotation = Annotated[annotation, marker.meta]
        declared.append(
            DeclaredParameter(
                param.name, source, key, annotation, default is MISSING, default, marker
            )
        )
    if not declared and connection is not None and positional:
        return None  # handler(request, ...) as in 0.6.3: called exactly as before
    # Otherwise the app calls the handler with keywords only (the connection, if it takes
    # one, by name), so a handler without a request parameter never receives it.
    return SignaturePlan(declared, connection, positional, signature.return_annotation)


# -- adding sources -------------------------------------------------------------------------

Reader = Callable[[Any], Any]
"""Reads one parameter's value: given the source's values, or the connection."""


# source -> builder of the reader for one parameter (path and body are built above)
READERS: dict[str, Callable[[DeclaredParameter], Reader]] = {}
# sources whose readers are coroutines (the generated call awaits them)
ASYNC_SOURCES: frozenset[str] = frozenset({"form"})
# sources read from the request body: at most one per route, documented as the requestBody
BODY_SOURCES: frozenset[str] = frozenset({"body", "form"})
