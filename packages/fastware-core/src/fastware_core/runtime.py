"""The ``/__fastware/`` runtime: build id, update channel and service workers.

An app that serves a frontend (``static_dir``, ``spa_fallback`` or ``sw_mode`` set, or
``runtime=True``) answers these paths itself (see docs/runtime.md):

- ``/__fastware/version``: ``{"build_id": ..., "name": ...}``;
- ``/__fastware/events``: server-sent events, a ``build`` event, then heartbeats;
- ``/__fastware/client.js``: the update client, which reloads the page on a new build and
  keeps its form fields;
- ``/__fastware/sw.js``: the caching worker (``cache``) or the self-destruct worker
  (``reset``), 404 otherwise;
- ``/__fastware/sw-register.js``: the registration snippet (``cache``), 404 otherwise;
- each of ``legacy_sw_paths``: the self-destruct worker (``reset`` only).

The endpoints are ordinary entries of the app's compiled route table, put in front of the
user's routes, so they cost nothing per request: no check runs for any other path, and an
app without the runtime has no entries at all.

The build id (a SHA-256 over the files of ``static_dir``) is computed in a thread, started
at lifespan startup (or by the first request that needs it when no lifespan ran); requests
await it without blocking the event loop, and the event stream starts before it is known.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import hashlib
import logging
import os
import threading
from collections.abc import AsyncIterator, Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ._assets import load_template, render_asset
from ._json import encode_json
from .exceptions import HTTPError
from .request import Request
from .responses import BytesResponse, JSONResponse, Response, StreamResponse
from .routing import CompiledRouter, Router

if TYPE_CHECKING:
    from .app import AppConfig

__all__ = (
    "EMPTY_BUILD_ID",
    "RUNTIME_PREFIX",
    "SW_MODES",
    "FastwareRuntime",
    "compute_build_id",
    "runtime_enabled",
)

RUNTIME_PREFIX = "/__fastware/"
"""Every path the runtime owns starts with this (besides ``legacy_sw_paths``)."""

SW_MODES = ("off", "cache", "reset")
"""The values of ``AppConfig.sw_mode`` (or ``None``, which behaves as ``off``)."""

EMPTY_BUILD_ID = hashlib.sha256(b"").hexdigest()
"""The build id of an app without a ``static_dir`` (or with an empty one)."""

DEFAULT_BACKEND_PREFIXES = ("/events", "/ws")
"""Paths the caching worker never touches besides ``/__fastware/`` and ``api_prefix``
(0.6.3's default backend prefixes: event streams and WebSockets)."""

JAVASCRIPT = "text/javascript; charset=utf-8"
TEMPLATES = ("client.js", "sw.js", "sw-reset.js", "sw-register.js")
_READ_CHUNK = 1024 * 1024
_logger = logging.getLogger("fastware.runtime")


def runtime_enabled(config: AppConfig) -> bool:
    """Whether an app built from ``config`` serves the runtime: ``config.runtime`` when set,
    else whenever it serves a frontend (``static_dir``, ``spa_fallback``) or sets
    ``sw_mode``."""
    if config.runtime is not None:
        return config.runtime
    return (
        config.sw_mode is not None
        or config.static_dir is not None
        or config.spa_fallback is not None
    )


def compute_build_id(static_dir: str | os.PathLike[str] | None) -> str:
    """The build id of a static directory (fastware 0.6.3's definition).

    SHA-256 over the directory's files sorted by their relative POSIX path; for each file
    its path in UTF-8, a NUL byte, its bytes and another NUL byte. Modification times and
    sizes are not part of it, so the same files give the same id on every host. No
    directory, or an empty one, gives :data:`EMPTY_BUILD_ID`. Symlinked files count with
    their target's bytes; symlinked directories are not followed. A file that cannot be
    read counts with its path only (and is logged).

    This reads every file: call it in a thread (the app does).
    """
    digest = hashlib.sha256()
    if static_dir is None:
        return digest.hexdigest()
    root = Path(static_dir)
    if not root.is_dir():
        return digest.hexdigest()
    found: list[tuple[str, str]] = []
    for directory, dirnames, filenames in os.walk(root):
        dirnames.sort()
        for filename in filenames:
            full = os.path.join(directory, filename)
            if os.path.isfile(full):
                found.append((Path(full).relative_to(root).as_posix(), full))
    found.sort()
    for relative, full in found:
        digest.update(relative.encode("utf-8", "surrogateescape"))
        digest.update(b"\x00")
        try:
            with open(full, "rb") as file:
                while chunk := file.read(_READ_CHUNK):
                    digest.update(chunk)
        except OSError as exc:
            _logger.warning("build id: cannot read %s: %s", full, exc)
        digest.update(b"\x00")
    return digest.hexdigest()


def _check_paths(setting: str, paths: Sequence[str] | None) -> tuple[str, ...]:
    if paths is None:
        return ()
    if isinstance(paths, str):
        raise ValueError(f"{setting} must be a list of paths, not a string ({paths!r})")
    for path in paths:
        if (
            not isinstance(path, str)
            or not path.startswith("/")
            or any(c in path for c in "\x00{}?#")
        ):
            raise ValueError(
                f"{setting} entries must be absolute URL paths like '/sw.js', got {path!r}"
            )
    return tuple(paths)


def _js(value: Any) -> str:
    # JSON is a JavaScript literal; ensure that no "</script" or U+2028 surprises a reader.
    return encode_json(value).decode("utf-8").replace("<", "\\u003c")


class FastwareRuntime:
    """The ``/__fastware/`` endpoints of one app (built by the app; see the module docstring).

    Attributes:
        heartbeat_interval: Seconds between the comments ``/__fastware/events`` sends so
            proxies keep an idle stream open (change it before requests arrive).
    """

    heartbeat_interval: float = 15.0

    def __init__(self, app: Any, config: AppConfig) -> None:
        mode = config.sw_mode
        if mode is not None and mode not in SW_MODES:
            raise ValueError(f"sw_mode must be 'off', 'cache' or 'reset', got {mode!r}")
        self.sw_mode: str = mode or "off"
        """The service-worker mode (``off`` when none was set)."""
        self.name = config.name
        self.static_dir = config.static_dir
        self.legacy_sw_paths = _check_paths("legacy_sw_paths", config.legacy_sw_paths)
        self.foreign_sw_paths = _check_paths("foreign_sw_paths", config.foreign_sw_paths)
        self._app = app
        self._static_prefix = "/" + config.static_path.strip("/")
        self._api_prefix = config.api_prefix
        self._spa = config.spa_fallback is not None
        self._future: concurrent.futures.Future[str] | None = None
        self._rendered: dict[tuple[str, str], bytes] = {}
        self._merged: tuple[CompiledRouter, CompiledRouter] | None = None
        self._entries = self._routes().compile().entries

    # -- the route table -----------------------------------------------------------------------

    def _routes(self) -> Router:
        router = Router()
        router.get("/__fastware/version")(self.version)
        router.get("/__fastware/events")(self.events)
        router.get("/__fastware/client.js")(self.client_js)
        router.get("/__fastware/sw.js")(self.service_worker)
        router.get("/__fastware/sw-register.js")(self.register_js)
        if self.sw_mode == "reset":
            taken = {"/__fastware/sw.js"}
            for path in self.legacy_sw_paths:
                if path not in taken:
                    taken.add(path)
                    router.get(path)(self.service_worker)
        return router

    @property
    def paths(self) -> list[str]:
        """Every path the runtime answers (GET and HEAD)."""
        return [entry.path for entry in self._entries]

    def merged(self, source: CompiledRouter) -> CompiledRouter:
        """``source`` with the runtime's routes in front (they win over a user route on the
        same path, which is logged); the same object for the same ``source``."""
        cached = self._merged
        if cached is not None and cached[0] is source:
            return cached[1]
        for entry in self._entries:
            taken = source.lookup(entry.method, entry.path)
            if taken is not None and not taken[1]:
                _logger.warning(
                    "route %s %s is answered by the fastware runtime; move it, or set "
                    "runtime=False (or sw_mode to another value for a legacy_sw_paths entry)",
                    entry.method,
                    entry.path,
                )
        merged = source.extended(before=self._entries)
        self._merged = (source, merged)
        return merged

    # -- the build id --------------------------------------------------------------------------

    def start(self) -> None:
        """Start computing the build id in a thread (at every lifespan startup: a restarted
        app may serve different files)."""
        self._future = self._spawn()

    def _spawn(self) -> concurrent.futures.Future[str]:
        future: concurrent.futures.Future[str] = concurrent.futures.Future()
        static_dir = self.static_dir

        def run() -> None:
            build_id = EMPTY_BUILD_ID
            try:
                for name in TEMPLATES:  # read here once, not on the event loop
                    load_template(name)
            except OSError:  # answered as a 500 when a script is asked for
                _logger.exception("the runtime's scripts cannot be read (a broken install?)")
            try:
                build_id = compute_build_id(static_dir)
            except Exception:  # a broken directory must not take the endpoints down
                _logger.exception("could not compute the build id of %s", static_dir)
            finally:
                future.set_result(build_id)  # always: requests wait for it

        threading.Thread(target=run, name="fastware-build-id", daemon=True).start()
        return future

    async def build_id(self) -> str:
        """The build id; awaits the thread computing it (the event loop keeps running)."""
        future = self._future
        if future is None:
            future = self._future = self._spawn()
        if future.done():
            return future.result()
        return await asyncio.wrap_future(future)

    # -- endpoints -----------------------------------------------------------------------------

    async def version(self, request: Request) -> Response:
        """``GET /__fastware/version``: the build id, and the app's name if it has one."""
        body: dict[str, str] = {"build_id": await self.build_id()}
        if self.name:
            body["name"] = self.name
        return JSONResponse(body, headers={"cache-control": "no-cache"})

    async def events(self, request: Request) -> Response:
        """``GET /__fastware/events``: a ``build`` event for this build, then a heartbeat
        comment every :attr:`heartbeat_interval` seconds until the server shuts down; the
        browser then reconnects (to the restarted server, which announces its build)."""
        return StreamResponse(
            self._event_stream(),
            "text/event-stream",
            headers={"cache-control": "no-cache", "x-accel-buffering": "no"},
        )

    async def _event_stream(self) -> AsyncIterator[bytes]:
        # A short retry so pages find a restarted server quickly.
        yield b"retry: 1000\n\n"
        build_id = await self.build_id()
        yield b"event: build\ndata: " + encode_json({"build_id": build_id}) + b"\n\n"
        closing: asyncio.Event = self._app.shutting_down
        while not closing.is_set():
            try:
                await asyncio.wait_for(closing.wait(), self.heartbeat_interval)
            except TimeoutError:
                yield b": heartbeat\n\n"

    async def client_js(self, request: Request) -> Response:
        """``GET /__fastware/client.js``: the update client, rendered for this build."""
        build_id = await self.build_id()
        return self._script("client.js", build_id, lambda: {"BUILD_ID": _js(build_id)})

    async def service_worker(self, request: Request) -> Response:
        """``GET /__fastware/sw.js`` (and ``legacy_sw_paths`` in reset mode): the worker of
        the current mode, or 404 when the mode has none."""
        if self.sw_mode == "reset":
            await self.build_id()  # the templates are read by then
            return self._script("sw-reset.js", "", dict, worker=True)
        if self.sw_mode != "cache":
            raise HTTPError(404, "Not found")
        build_id = await self.build_id()
        return self._script("sw.js", build_id, lambda: self._worker_values(build_id), worker=True)

    async def register_js(self, request: Request) -> Response:
        """``GET /__fastware/sw-register.js``: the registration snippet (cache mode only)."""
        if self.sw_mode != "cache":
            raise HTTPError(404, "Not found")
        await self.build_id()  # the templates are read by then
        return self._script(
            "sw-register.js", "", lambda: {"FOREIGN_SW_PATHS": _js(list(self.foreign_sw_paths))}
        )

    def _worker_values(self, build_id: str) -> dict[str, str]:
        excluded = [RUNTIME_PREFIX]
        if self._api_prefix:
            excluded.append("/" + self._api_prefix.strip("/"))
        excluded += DEFAULT_BACKEND_PREFIXES
        return {
            "BUILD_ID": _js(build_id),
            "EXCLUDED_PREFIXES": _js(excluded),
            "STATIC_PREFIX": _js(self._static_prefix),
            "SPA": "true" if self._spa else "false",
        }

    def _script(
        self,
        name: str,
        build_id: str,
        values: Callable[[], dict[str, str]],
        *,
        worker: bool = False,
    ) -> Response:
        key = (name, build_id)
        body = self._rendered.get(key)
        if body is None:
            body = self._rendered[key] = render_asset(name, values()).encode("utf-8")
        headers = {"cache-control": "no-cache"}
        if worker:
            headers["service-worker-allowed"] = "/"
        return BytesResponse(body, JAVASCRIPT, headers=headers)
