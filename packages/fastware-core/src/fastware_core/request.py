"""The request object handed to handlers, for both the ASGI and the RSGI door."""

from __future__ import annotations

import asyncio
import re
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TypeVar, cast, overload
from urllib.parse import parse_qsl, quote

from ._json import DEFAULT_MAX_DEPTH, decode_json
from ._rsgi_asgi import PATH_SAFE as _PATH_SAFE
from .connection import ASGIConnection, RSGIConnection
from .datastructures import URL, Address, Headers, QueryParams, State
from .exceptions import FastwareError, HTTPError
from .types import Receive, Scope

if TYPE_CHECKING:
    from .forms import FormData, FormLimits
    from .sessions import Session

__all__ = (
    "Request",
    "State",
    "StreamedBody",
    "body_consumed",
    "body_is_streamed",
    "build_request",
    "end_request",
    "json_body",
    "json_depth",
    "mark_disconnected",
    "parse_cookie_header",
    "parse_query_string",
)

T = TypeVar("T")

_UNSET: Any = object()
_COOKIE_NAME = re.compile(r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+")
_TRUE = frozenset({"true", "1", "yes", "on"})
_FALSE = frozenset({"false", "0", "no", "off"})
# model -> its pydantic-style ``model_validate``, or None for types msgspec decodes itself
_validators: dict[Any, Any] = {}


def parse_cookie_header(value: str) -> dict[str, str]:
    """Parse a ``Cookie`` header, keeping every well-formed pair.

    A malformed piece (no ``=``, an invalid name) is skipped instead of discarding the
    whole header, so one odd cookie on a domain does not log everybody out. Values are kept
    as sent, minus surrounding double quotes; the first value of a repeated name wins.
    """
    cookies: dict[str, str] = {}
    for piece in value.split(";"):
        name, sep, val = piece.partition("=")
        if not sep:
            continue
        name = name.strip()
        if not _COOKIE_NAME.fullmatch(name):
            continue
        val = val.strip()
        if len(val) >= 2 and val[0] == '"' and val[-1] == '"':
            val = val[1:-1]
        cookies.setdefault(name, val)
    return cookies


class StreamedBody:
    """What a door passes as the body of a ``multipart/form-data`` request: left unread, to
    be streamed by ``request.form()`` (or read whole by ``request.read_body()``)."""

    __slots__ = ("consumed",)

    def __init__(self) -> None:
        self.consumed = False


def is_multipart(content_type: str | bytes | None) -> bool:
    """Whether a Content-Type header value is ``multipart/form-data`` (the doors ask)."""
    if not content_type:
        return False
    head = content_type[:19]
    if isinstance(head, bytes):
        return head.lower() == b"multipart/form-data"
    return head.lower() == "multipart/form-data"


def parse_query_string(query_string: str) -> QueryParams:
    """Parse a raw query string, keeping blank values.

    Raises:
        HTTPError: 400 when a value is not valid UTF-8 once percent-decoded.
    """
    if "%" not in query_string and "+" not in query_string:
        # Nothing to decode: what parse_qsl gives, without its per-pair unquoting.
        pairs = []
        for part in query_string.split("&"):
            if part:
                name, _, value = part.partition("=")
                pairs.append((name, value))
        return QueryParams(pairs)
    try:
        pairs = parse_qsl(query_string, keep_blank_values=True, errors="strict")
    except UnicodeDecodeError:
        raise HTTPError(400, "Query string is not valid UTF-8") from None
    return QueryParams(pairs)


# Keys of a request's lazy cache for what only some requests need.
_FORM = "fastware.form"
_WATCHER = "fastware.watcher"
_DISCONNECTED = "fastware.disconnected"


class Request:
    """An HTTP request: method, path, headers, query, cookies, body and state.

    Built by the app for each matched route. ``Request(scope, path_params, body)`` also
    builds one by hand from an ASGI scope, as in fastware 0.6.3.
    """

    __slots__ = ("_app", "_body", "_cache", "_conn", "path_params")

    path_params: dict[str, Any]
    """Converted path parameters, e.g. ``{"id": 42}`` for ``/users/{id:int}``."""

    def __init__(
        self,
        scope: Scope,
        path_params: dict[str, Any] | None = None,
        body: bytes | None = None,
        receive: Receive | None = None,
    ) -> None:
        self._conn: ASGIConnection | RSGIConnection = ASGIConnection.of(scope, receive)
        self.path_params = path_params if path_params is not None else {}
        self._body: Any = body or None
        # Lazily computed values (query, cookies, json, state, the form, the disconnect
        # watcher), created on first use: a request that asks for none costs one store.
        self._cache: dict[str, Any] | None = None
        self._app: Any = None  # the App: lifespan state and the JSON limits

    def _cached(self) -> dict[str, Any]:
        cache = self._cache
        if cache is None:
            cache = self._cache = {}
        return cache

    @property
    def app(self) -> Any:
        """The application serving this request (``None`` for a request built by hand)."""
        return self._app

    @property
    def connection(self) -> ASGIConnection | RSGIConnection:
        """The door's view of this request (what middleware hooks see)."""
        return self._conn

    # -- request line -----------------------------------------------------------------------

    @property
    def method(self) -> str:
        """The request method, as sent (``GET``, ``POST``, ...)."""
        return self._conn.method

    @property
    def path(self) -> str:
        """The percent-decoded path, without the mount prefix (``root_path``)."""
        return self._conn.path

    @property
    def root_path(self) -> str:
        """The prefix under which the app is mounted (``""`` at the root)."""
        return self._conn.root_path

    @property
    def scheme(self) -> str:
        """``http`` or ``https``."""
        return self._conn.scheme

    @property
    def http_version(self) -> str:
        """``1.0``, ``1.1`` or ``2``."""
        return self._conn.http_version

    @property
    def client(self) -> Address | None:
        """The peer's ``(host, port)``, or ``None`` when the server does not say."""
        return self._conn.client

    @property
    def query_string(self) -> str:
        """The raw query string, without ``?`` (still percent-encoded).

        Raises:
            HTTPError: 400 when it is not valid UTF-8.
        """
        return self._conn.query_string

    @property
    def host(self) -> str:
        """The ``Host`` header (``:authority`` under HTTP/2), or the server address.

        Raises:
            HTTPError: 400 when the request carries several different Host headers.
        """
        hosts = [host for host in self.headers.getlist("host") if host]
        if len(set(hosts)) > 1:
            raise HTTPError(400, "Invalid host header")
        if hosts:
            return hosts[0]
        return self._conn.server_authority

    @property
    def url(self) -> URL:
        """The full URL the client asked for, e.g. ``http://example.com/items?page=2``."""
        raw_path = self._conn.raw_path
        if raw_path is not None:
            path = quote(self.root_path, safe=_PATH_SAFE) + quote(raw_path, safe=_PATH_SAFE + "%")
        else:
            path = quote(self.root_path + self.path, safe=_PATH_SAFE)
        query = self.query_string
        return URL(f"{self.scheme}://{self.host}{path}" + (f"?{query}" if query else ""))

    @property
    def scope(self) -> Scope:
        """The ASGI scope (built on first access when the request came through RSGI)."""
        cache = self._cached()
        scope: Scope | None = cache.get("scope")
        if scope is None:
            self.state  # noqa: B018 - the scope shares the request's state
            scope = cache["scope"] = self._conn.asgi_scope()
        return scope

    # -- headers and cookies ------------------------------------------------------------------

    @property
    def headers(self) -> Headers:
        """All request headers: a case-insensitive multi-mapping (``getlist`` for repeats)."""
        return self._conn.headers

    def header(self, name: str, default: str | None = None) -> str | None:
        """The first value of header ``name`` (any case), or ``default`` when absent."""
        value = self._conn.header(name.lower())
        return default if value is None else value

    @property
    def cookies(self) -> dict[str, str]:
        """Cookies sent by the client; malformed pieces are skipped, valid ones kept."""
        cache = self._cached()
        cookies: dict[str, str] | None = cache.get("cookies")
        if cookies is None:
            values = self.headers.getlist("cookie")
            cookies = cache["cookies"] = parse_cookie_header("; ".join(values)) if values else {}
        return cookies

    def cookie(self, name: str, default: str | None = None) -> str | None:
        """One cookie's value, or ``default``."""
        return self.cookies.get(name, default)

    # -- query ------------------------------------------------------------------------------

    @property
    def query_params(self) -> QueryParams:
        """Query parameters: a dict of the first value per key, with ``getlist`` for all.

        Blank values (``?q=``) are kept as ``""``.

        Raises:
            HTTPError: 400 when the query string is not valid UTF-8 once decoded.
        """
        cache = self._cached()
        query: QueryParams | None = cache.get("query")
        if query is None:
            query = cache["query"] = parse_query_string(self.query_string)
        return query

    @overload
    def query(self, name: str) -> str | None: ...
    @overload
    def query(
        self,
        name: str,
        default: Any = ...,
        *,
        type_: Callable[[str], T],
        ge: float | None = None,
        le: float | None = None,
        min_length: int | None = None,
        max_length: int | None = None,
    ) -> T | Any: ...
    @overload
    def query(
        self,
        name: str,
        default: Any = ...,
        *,
        ge: float | None = None,
        le: float | None = None,
        min_length: int | None = None,
        max_length: int | None = None,
    ) -> str | Any: ...

    def query(
        self,
        name: str,
        default: Any = _UNSET,
        *,
        type_: Callable[[str], Any] = str,
        ge: float | None = None,
        le: float | None = None,
        min_length: int | None = None,
        max_length: int | None = None,
    ) -> Any:
        """One query parameter, converted and checked.

        Args:
            name: The parameter name.
            default: Returned when the parameter is absent (``None`` if not given). For a
                non-``str`` ``type_`` a blank value (``?page=``) also counts as absent.
            type_: ``str``, ``int``, ``float``, ``bool`` (``true/false/1/0/yes/no/on/off``)
                or any callable taking the string.
            ge: Lower bound (inclusive) for numbers.
            le: Upper bound (inclusive) for numbers.
            min_length: Minimum length of the converted value.
            max_length: Maximum length of the converted value.

        Raises:
            HTTPError: 422 when conversion or a constraint fails; the detail names the
                parameter and the offending value or limit.
        """
        raw = self.query_params.get(name)
        if raw is None or (raw == "" and type_ is not str):
            return None if default is _UNSET else default
        value = _convert_query(name, raw, type_)
        if ge is not None and value < ge:
            raise HTTPError(422, f"Query parameter '{name}' must be >= {ge}, got {raw!r}")
        if le is not None and value > le:
            raise HTTPError(422, f"Query parameter '{name}' must be <= {le}, got {raw!r}")
        if min_length is not None and len(value) < min_length:
            raise HTTPError(
                422, f"Query parameter '{name}' must have at least {min_length} characters"
            )
        if max_length is not None and len(value) > max_length:
            raise HTTPError(
                422, f"Query parameter '{name}' must have at most {max_length} characters"
            )
        return value

    def query_list(self, name: str, type_: Callable[[str], T] = str) -> list[T]:  # type: ignore[assignment]
        """Every value of a repeated parameter (``?tag=a&tag=b``), converted; ``[]`` if absent.

        Raises:
            HTTPError: 422 when a value cannot be converted.
        """
        return [
            _convert_query(name, raw, type_)
            for raw in self.query_params.getlist(name)
            if raw != "" or type_ is str
        ]

    # -- body ---------------------------------------------------------------------------------

    @property
    def body(self) -> bytes | None:
        """The raw body, or ``None`` when the request had none.

        Raises:
            FastwareError: for a ``multipart/form-data`` body, which is streamed instead of
                read up front: use ``await request.form()``, or ``await request.read_body()``
                once before reading this.
        """
        body = self._body
        if type(body) is StreamedBody:
            raise _streamed_error(body)
        return cast("bytes | None", body)

    @property
    def body_size(self) -> int:
        """The body length in bytes (0 without a body, or one not read yet)."""
        body = self._body
        return len(body) if body and type(body) is not StreamedBody else 0

    async def read_body(self) -> bytes | None:
        """The raw body, reading it now when the door left it unread (multipart bodies are
        streamed to ``form()`` instead); afterwards ``request.body`` returns it too.

        Raises:
            HTTPError: 413 past the app's ``max_body_size``; 400 when the client left.
        """
        if not body_is_streamed(self):
            return self.body
        from .forms import read_whole_body

        self._body = await read_whole_body(self)
        return cast("bytes | None", self._body)

    async def form(self, *, limits: FormLimits | None = None) -> FormData:
        """The body as a form (cached): URL-encoded or ``multipart/form-data``.

        Uploaded files are :class:`~fastware_core.forms.UploadFile` objects, spooled to
        disk past ``limits.spool_size``, and closed (temporary files removed) when the
        handler returns. See :class:`~fastware_core.forms.FormLimits` for the defaults.

        Raises:
            HTTPError: 415 when the body is not a form; 400 when it is malformed; 413 past
                a limit; 408 when it does not arrive within ``body_timeout``.
            MissingPackageError: for a multipart body without ``fastware-core[forms]``.
        """
        cache = self._cached()
        form: FormData | None = cache.get(_FORM)
        if form is None:
            from .forms import read_form

            form = cache[_FORM] = await read_form(self, limits)
            self._conn.ends = True
        return form

    @property
    def json(self) -> Any:
        """The body decoded as JSON (cached), or ``None`` when there is no body.

        Raises:
            HTTPError: 415 when the body's Content-Type is not JSON (see
                ``AppConfig.json_content_types_only``); 400 when the body is not valid JSON,
                not UTF-8, nested too deeply or holds numbers out of range.
        """
        cache = self._cached()
        value = cache.get("json", _UNSET)
        if value is _UNSET:
            body = json_body(self)
            value = cache["json"] = (
                None if body is None else decode_json(body, max_depth=json_depth(self))
            )
        return value

    def json_as(self, model: type[T]) -> T:
        """Decode the body into ``model``: a msgspec Struct, dataclass, TypedDict, ... or a
        pydantic model (validated with ``model_validate``).

        Raises:
            HTTPError: 415 when the body's Content-Type is not JSON; 400 for malformed
                JSON; 422 when the JSON does not fit ``model`` (an empty body is JSON
                ``null`` and so does not fit an object model).
        """
        validate = _validators.get(model, _UNSET)
        if validate is _UNSET:
            validate = getattr(model, "model_validate", None)
            validate = _validators[model] = validate if callable(validate) else None
        if validate is not None:
            data = self.json
            try:
                validated: T = validate(data)
            except ValueError as exc:  # pydantic's ValidationError is a ValueError
                raise HTTPError(422, str(exc)) from None
            return validated
        body = json_body(self)
        if body is None:
            body = b"null"
        app = self._app  # json_depth(), inlined: json_as is a hot path
        decoded: T = decode_json(
            body, max_depth=DEFAULT_MAX_DEPTH if app is None else app.max_json_depth, type_=model
        )
        return decoded

    # -- session ------------------------------------------------------------------------------

    @property
    def session(self) -> Session:
        """The visitor's session, a dict saved at the end of the request (see
        :class:`~fastware_core.middleware.SessionMiddleware`).

        Raises:
            FastwareError: when the app has no ``SessionMiddleware``.
        """
        slot = self._conn.state.get("session")
        if slot is None:
            source = getattr(self._app, "session_middleware", None)
            if source is None:
                raise FastwareError(
                    "request.session needs SessionMiddleware: create_app(router, middleware="
                    "[SessionMiddleware(secret_key=...)])"
                )
            slot = source.open(self._conn)
        if isinstance(slot, dict):  # a plain dict someone stored
            return cast("Session", slot)
        return cast("Session", slot.get())

    # -- state and connection -------------------------------------------------------------------

    @property
    def state(self) -> State:
        """Per-request state: the lifespan state plus whatever middleware stored.

        Writes go to this request only (and to ``scope["state"]`` on the ASGI door).
        """
        cache = self._cached()
        state: State | None = cache.get("state")
        if state is None:
            data = self._conn.state
            if self._app is not None:
                for key, value in self._app.app_state.items():
                    data.setdefault(key, value)
            state = cache["state"] = State(data)
        return state

    async def is_disconnected(self) -> bool:
        """Whether the client has gone away. Cheap to call repeatedly.

        The first call starts watching the connection; a request that never asks pays
        nothing. Always ``False`` for a request built by hand without ``receive``.
        """
        cache = self._cached()
        if cache.get(_DISCONNECTED):
            return True
        if _WATCHER not in cache:
            if isinstance(self._conn, ASGIConnection) and self._conn.receive is None:
                return False
            cache[_WATCHER] = asyncio.get_running_loop().create_task(self._watch())
            self._conn.ends = True
            await asyncio.sleep(0)
        return bool(cache.get(_DISCONNECTED))

    async def _watch(self) -> None:
        await self._conn.wait_disconnect()
        self._cached()[_DISCONNECTED] = True

    def __repr__(self) -> str:
        return f"<Request {self.method} {self.path}>"


def _streamed_error(body: StreamedBody) -> FastwareError:
    if body.consumed:
        return FastwareError(
            "This request's multipart body was already read by request.form(): use the form"
        )
    return FastwareError(
        "A multipart/form-data body is streamed, not read up front: use await request.form(), "
        "or await request.read_body() once before reading request.body"
    )


def _convert_query(name: str, raw: str, type_: Callable[[str], Any]) -> Any:
    if type_ is str:
        return raw
    if type_ is bool:
        lowered = raw.strip().lower()
        if lowered in _TRUE:
            return True
        if lowered in _FALSE:
            return False
        raise HTTPError(422, f"Query parameter '{name}': cannot convert {raw!r} to bool")
    try:
        return type_(raw)
    except (ValueError, TypeError, ArithmeticError):
        type_name = getattr(type_, "__name__", repr(type_))
        raise HTTPError(
            422, f"Query parameter '{name}': cannot convert {raw!r} to {type_name}"
        ) from None


def build_request(
    conn: ASGIConnection | RSGIConnection,
    path_params: dict[str, Any],
    body: bytes | StreamedBody | None,
    app: Any,
) -> Request:
    """The request a door hands to a handler (what the doors call; cheaper than __init__)."""
    request = Request.__new__(Request)
    request._conn = conn
    request.path_params = path_params
    request._body = body
    request._cache = None
    request._app = app
    return request


def end_request(request: Request) -> None:
    """Stop watching for a disconnect once the handler returned (see ``is_disconnected``) and
    close a parsed form's files. The doors call it when the connection says it ``ends``."""
    cache = request._cache
    if cache is None:
        return
    watcher = cache.pop(_WATCHER, None)
    if watcher is not None:
        watcher.cancel()
    form = cache.get(_FORM)
    if form is not None:  # close uploaded files: their temporary files go away
        form.close_now()


def body_is_streamed(request: Request) -> bool:
    """Whether the door left the body unread for a streaming reader (a multipart form).

    Raises:
        FastwareError: when a reader already consumed it.
    """
    body = request._body
    if type(body) is StreamedBody:
        if body.consumed:
            raise _streamed_error(body)
        return True
    return False


def body_consumed(request: Request) -> None:
    """Record that a streaming reader consumed the body the door left unread."""
    cast(StreamedBody, request._body).consumed = True


def json_body(request: Request) -> bytes | None:
    """The body a JSON decoder reads (``None`` when there is none), after the checks
    ``request.json`` and ``json_as`` make.

    A cross-site form can post ``text/plain``, a form encoding or no Content-Type at all
    without a CORS preflight; refusing those (unless the app opted out) keeps JSON
    endpoints out of its reach.

    Raises:
        HTTPError: 415 for a body not sent as JSON (``application/json`` or ``+json``).
        FastwareError: for a body the door left unread (multipart).
    """
    body = request._body
    if body is None:
        return None
    app = request._app
    if app is not None and app.json_content_types_only:
        content_type = request._conn.header("content-type")
        if content_type != "application/json":  # what nearly every client sends
            media = content_type.partition(";")[0].strip().lower() if content_type else ""
            if media != "application/json" and not (media.endswith("+json") and "/" in media):
                raise HTTPError(
                    415,
                    "Request body must be JSON (Content-Type: application/json), got "
                    + (repr(content_type) if content_type else "no Content-Type"),
                )
    if type(body) is StreamedBody:
        raise _streamed_error(body)
    raw: bytes = body
    return raw


def json_depth(request: Request) -> int:
    """How deeply the request's JSON may nest (the app's ``max_json_depth``)."""
    app = request._app
    if app is None:
        return DEFAULT_MAX_DEPTH
    depth: int = app.max_json_depth
    return depth


def mark_disconnected(request: Request) -> None:
    """Record that the client left (a stream's watcher saw it go)."""
    request._cached()[_DISCONNECTED] = True
