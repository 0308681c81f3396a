"""Static files and the single-page-app fallback, for both doors.

:class:`StaticFiles` serves a directory; :class:`SPAFallback` serves a single-page app's
``index.html`` for every browser route and the files next to it. Both decide the answer in
``respond()`` (GET and HEAD only, conditional requests, single byte ranges, caching) and
leave sending it to the door: the app calls ``send_file_asgi`` or ``send_file_rsgi``. A
``StaticFiles`` is also an ASGI app of its own, for ``router.mount("/assets", ...)``.

Every file-system call (resolving, stat, open, read) runs in a worker thread.
"""

from __future__ import annotations

import asyncio
import os
import re
import stat as stat_module
from datetime import UTC
from email.utils import formatdate, parsedate_to_datetime
from pathlib import Path
from typing import Final, Protocol

from ._filesend import asgi_headers, send_static_asgi
from ._mimetypes import guess_content_type
from .exceptions import FastwareError
from .responses import FileResponse, JSONResponse, Response
from .types import Receive, Scope, Send

__all__ = ("HeaderLookup", "SPAFallback", "StaticFiles", "is_hashed_asset")

IMMUTABLE: Final = "public, max-age=31536000, immutable"
NO_CACHE: Final = "no-cache"
_HTML: Final = "text/html; charset=utf-8"
_METHODS: Final = frozenset({"GET", "HEAD"})


class HeaderLookup(Protocol):
    """Request headers as ``respond()`` reads them: ``get(lower-case name)``.

    Satisfied by :class:`~fastware_core.Headers`, Granian's RSGI ``scope.headers`` and a
    ``dict`` with lower-case keys.
    """

    def get(self, key: str, /) -> str | None:
        """The first value of header ``key`` (lower case), or ``None``."""
        ...


# -- the hashed-name rule -------------------------------------------------------------------------

# A separator, then 8+ base64url characters up to the end of the stem (every such start).
_HASH_TAIL = re.compile(r"[-.](?=([A-Za-z0-9_-]{8,})\Z)")
_DIGIT = re.compile(r"[0-9]")
_LETTER = re.compile(r"[A-Za-z]")
_LOWER_RUN = re.compile(r"[a-z]{4,}")
_HEX_LETTERS = frozenset("abcdef")


def _looks_like_hash(text: str) -> bool:
    if not _DIGIT.search(text) or not _LETTER.search(text):
        return False
    # A run of 4+ lower-case letters that is not hex ("icon", "final", "regular") is a word:
    # random hashes rarely hold one, file names nearly always do.
    return all(set(run) <= _HEX_LETTERS for run in _LOWER_RUN.findall(text))


def is_hashed_asset(name: str) -> bool:
    """Whether a file name carries a content hash, so it may be cached for a year.

    The rule: the name minus its extension (minus ``.map`` first, for source maps) ends
    with ``-`` or ``.`` followed by a *hash*: 8 or more characters from ``A-Z a-z 0-9 _ -``
    holding at least one digit and one letter, and no run of 4 or more lower-case letters
    other than hex digits (a run like ``icon`` or ``final`` is a word, not a hash).

    ``index-BvXq3_9a.js``, ``app.3f2a9c1b.css`` and ``chunk-D2_xk-9A.js`` are hashed;
    ``app-analytics.js``, ``site-settings.css``, ``react-dom-production.js`` and
    ``apple-touch-icon-180x180.png`` are not. A hash the rule misses (one without a digit)
    only costs a revalidation: such files are sent ``no-cache`` with an ETag.

    Args:
        name: A file name; anything up to the last ``/`` is ignored.
    """
    name = name.rpartition("/")[2]
    if name.endswith(".map"):
        name = name[:-4]
    stem, dot, _ = name.rpartition(".")
    if not dot or not stem:
        return False
    return any(_looks_like_hash(m.group(1)) for m in _HASH_TAIL.finditer(stem))


# -- paths ----------------------------------------------------------------------------------------


def _is_traversal(path: str) -> bool:
    """``path`` tries to climb or smuggle a separator: NUL, backslash, ``.``/``..`` segments."""
    if "\x00" in path or "\\" in path:
        return True
    return any(segment in (".", "..") for segment in path.split("/"))


def _safe_segments(path: str, allow_dotfiles: bool) -> list[str] | None:
    """The path's segments when it can name a file under a root, else ``None``.

    Refused: NUL, backslashes, empty segments (``//``, absolute paths, a trailing ``/``),
    ``.`` and ``..``, a ``:`` (drive letters, NTFS streams), and dotfiles unless allowed.
    """
    if "\x00" in path or "\\" in path:
        return None
    if path.startswith("/"):
        path = path[1:]
    segments = path.split("/")
    for segment in segments:
        if not segment or segment in (".", "..") or ":" in segment:
            return None
        if segment[0] == "." and not allow_dotfiles:
            return None
    return segments


def _find_file(
    root: Path, segments: list[str], allow_dotfiles: bool
) -> tuple[str, os.stat_result] | None:
    """The resolved path and stat of a regular file under ``root``, or ``None``.

    Runs in a worker thread. Symlinks are followed, but the target must stay inside the
    resolved root (and, without ``allow_dotfiles``, hold no dot-named part below it).
    """
    try:
        real_root = root.resolve(strict=True)
        target = real_root.joinpath(*segments).resolve(strict=True)
        if not target.is_relative_to(real_root):
            return None
        if not allow_dotfiles and any(
            part.startswith(".") for part in target.relative_to(real_root).parts
        ):
            return None
        info = target.stat()
    except (OSError, RuntimeError, ValueError):  # missing, loops, too long, no permission
        return None
    if not stat_module.S_ISREG(info.st_mode) or not os.access(target, os.R_OK):
        return None
    return str(target), info


def _stat_file(path: Path) -> tuple[str, os.stat_result] | None:
    try:
        target = path.resolve(strict=True)
        info = target.stat()
    except (OSError, RuntimeError, ValueError):
        return None
    if not stat_module.S_ISREG(info.st_mode) or not os.access(target, os.R_OK):
        return None
    return str(target), info


# -- conditional requests and ranges --------------------------------------------------------------


def _etag(info: os.stat_result) -> str:
    return f'"{info.st_mtime_ns:x}-{info.st_size:x}"'


def _http_date_seconds(value: str) -> int | None:
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return int(when.timestamp())


def _none_match(value: str, etag: str) -> bool:
    """``If-None-Match`` against the current ETag, with weak comparison (RFC 9110 13.1.2)."""
    bare = etag.removeprefix("W/")
    for candidate in value.split(","):
        candidate = candidate.strip()
        if candidate == "*" or candidate.removeprefix("W/") == bare:
            return True
    return False


def _not_modified(headers: HeaderLookup, etag: str, mtime: int) -> bool:
    none_match = headers.get("if-none-match")
    if none_match is not None:  # If-None-Match wins: If-Modified-Since is then ignored
        return _none_match(none_match, etag)
    since = headers.get("if-modified-since")
    if since is None:
        return False
    seconds = _http_date_seconds(since)
    return seconds is not None and mtime <= seconds


def _if_range_holds(value: str | None, etag: str, mtime: int) -> bool:
    """Whether a ``Range`` may be honoured: no ``If-Range``, or one that still matches."""
    if value is None:
        return True
    value = value.strip()
    if value.startswith(('"', "W/")):
        return value == etag  # strong comparison: a weak tag never matches
    return _http_date_seconds(value) == mtime


_UNSATISFIABLE: Final = (-1, -1)
_RANGE_SPEC = re.compile(r"(\d{0,19})-(\d{0,19})", re.ASCII)


def _parse_range(value: str, size: int) -> tuple[int, int] | None:
    """The single byte range asked for, as inclusive ``(first, last)``.

    ``None`` means send the whole file (a unit other than bytes, a malformed or multi-range
    request); :data:`_UNSATISFIABLE` means answer 416.
    """
    unit, equals, spec = value.partition("=")
    if not equals or unit.strip().lower() != "bytes":
        return None
    spec = spec.strip()
    match = _RANGE_SPEC.fullmatch(spec)
    if match is None:  # multi-range ("0-1,5-6"), garbage, or absurdly large numbers
        return None
    first_text, last_text = match.groups()
    if not first_text:
        if not last_text:
            return None
        suffix = int(last_text)
        if suffix == 0:
            return _UNSATISFIABLE
        if size == 0:
            return None  # nothing to cut from an empty file: send it whole
        return max(0, size - suffix), size - 1
    first = int(first_text)
    if last_text and int(last_text) < first:
        return None  # an invalid range-spec is ignored (RFC 9110 14.1.1)
    if first >= size:
        return _UNSATISFIABLE
    return first, min(int(last_text), size - 1) if last_text else size - 1


def _answer(
    method: str,
    path: str,
    info: os.stat_result,
    headers: HeaderLookup,
    content_type: str | None,
    cache_control: str,
) -> Response:
    """The response for a GET/HEAD of a found file: 200, 206, 304 or 416."""
    etag = _etag(info)
    mtime = int(info.st_mtime)
    last_modified = formatdate(mtime, usegmt=True)
    if _not_modified(headers, etag, mtime):
        return FileResponse(
            path,
            content_type,
            304,
            {"etag": etag, "last-modified": last_modified, "cache-control": cache_control},
            stat=info,
        )
    byte_range = None
    if method == "GET":  # Range is defined for GET only (RFC 9110 14.2)
        range_header = headers.get("range")
        if range_header is not None and _if_range_holds(headers.get("if-range"), etag, mtime):
            byte_range = _parse_range(range_header, info.st_size)
            if byte_range == _UNSATISFIABLE:
                return JSONResponse(
                    {"detail": "Range not satisfiable"},
                    416,
                    {"content-range": f"bytes */{info.st_size}"},
                )
    return FileResponse(
        path,
        content_type,
        206 if byte_range is not None else 200,
        {
            "accept-ranges": "bytes",
            "etag": etag,
            "last-modified": last_modified,
            "cache-control": cache_control,
        },
        range=byte_range,
        stat=info,
    )


def _method_not_allowed() -> JSONResponse:
    return JSONResponse({"detail": "Method not allowed"}, 405, {"allow": "GET, HEAD"})


# -- the public classes ---------------------------------------------------------------------------


class StaticFiles:
    """Serve the files under ``directory``: an ASGI app, and ``respond()`` for the app.

    Only regular files inside the (resolved) directory are served, and only to GET and
    HEAD; any other method gets 405. Paths holding ``..``, backslashes, NUL, ``:``, empty
    segments, or symlinks that lead out of the directory get 404, like dotfiles unless
    ``allow_dotfiles``. Answers carry ``ETag``, ``Last-Modified``, ``Accept-Ranges`` and
    ``Cache-Control`` (a year and ``immutable`` for hashed names, see
    :func:`is_hashed_asset`, ``no-cache`` otherwise), honour ``If-None-Match`` /
    ``If-Modified-Since`` with 304 and a single ``Range`` (with ``If-Range``) with 206 or
    416.

    Args:
        directory: The root directory; it may be created after the app starts.
        allow_dotfiles: Serve names starting with ``.`` (``.well-known/...``).
        check_dir: Raise at construction when ``directory`` is not a directory.

    Raises:
        FastwareError: with ``check_dir=True``, when ``directory`` is not a directory.
    """

    __slots__ = ("allow_dotfiles", "directory")

    directory: Path
    """The root directory, made absolute (symlinks are resolved on every request)."""
    allow_dotfiles: bool
    """Whether names starting with ``.`` are served."""

    def __init__(
        self,
        directory: str | os.PathLike[str],
        *,
        allow_dotfiles: bool = False,
        check_dir: bool = False,
    ) -> None:
        self.directory = Path(directory).absolute()
        self.allow_dotfiles = allow_dotfiles
        if check_dir and not self.directory.is_dir():
            raise FastwareError(
                f"StaticFiles directory {os.fspath(directory)!r} is not a directory: create "
                "it (build the frontend first) or pass check_dir=False"
            )

    async def respond(self, method: str, path: str, headers: HeaderLookup) -> Response | None:
        """The answer for ``method path``, or ``None`` when no file is there (answer 404).

        Args:
            method: The request method; anything but GET and HEAD gets 405.
            path: The decoded path below the directory (``/app.js``, the mount prefix
                already removed).
            headers: The request headers (see :class:`HeaderLookup`).

        Returns:
            A :class:`~fastware_core.FileResponse` (200, 206 or 304) for the door's file
            sender, a ``JSONResponse`` (405, 416), or ``None``.
        """
        if method not in _METHODS:
            return _method_not_allowed()
        segments = _safe_segments(path, self.allow_dotfiles)
        if segments is None:
            return None
        found = await asyncio.to_thread(_find_file, self.directory, segments, self.allow_dotfiles)
        if found is None:
            return None
        real_path, info = found
        name = segments[-1]  # the name asked for decides, not a symlink's target
        cache = IMMUTABLE if is_hashed_asset(name) else NO_CACHE
        return _answer(method, real_path, info, headers, guess_content_type(name), cache)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Serve one ASGI request (``path`` relative to the mount); 404 JSON when absent."""
        if scope["type"] == "websocket":
            await send({"type": "websocket.close", "code": 4004})
            return
        if scope["type"] != "http":
            return  # no lifespan to run: returning marks the protocol as unsupported
        method: str = scope["method"]
        response = await self.respond(method, scope["path"], asgi_headers(scope))
        await send_static_asgi(send, response, method == "HEAD")

    def __repr__(self) -> str:
        return f"StaticFiles(directory={os.fspath(self.directory)!r})"


class SPAFallback:
    """Serve a single-page app: ``index.html`` for browser routes, and the files beside it.

    For a GET or HEAD outside ``api_prefix``: a path naming a file in ``index_path``'s
    directory is served as :class:`StaticFiles` would; any other path gets ``index.html``
    as ``text/html; charset=utf-8`` with ``Cache-Control: no-cache`` (and an ETag, so
    reloads revalidate with 304). Other methods, paths under ``api_prefix``, traversal
    attempts (``..``, backslash, NUL) and a missing ``index.html`` give ``None``.

    Args:
        index_path: The app's ``index.html``; it may be created after the app starts.
        api_prefix: Paths equal to it or below it at a ``/`` boundary (``/api`` covers
            ``/api`` and ``/api/x``, not ``/apiary``) never get the fallback.
        allow_dotfiles: Serve dot-named files next to ``index.html``.

    Raises:
        ValueError: for an ``api_prefix`` that names no path (``""`` or ``"/"``).
    """

    __slots__ = ("_prefix", "_siblings", "api_prefix", "index_path")

    index_path: Path
    """The ``index.html`` file, made absolute."""
    api_prefix: str | None
    """The API prefix, normalised to ``/name`` without a trailing slash."""

    def __init__(
        self,
        index_path: str | os.PathLike[str],
        *,
        api_prefix: str | None = None,
        allow_dotfiles: bool = False,
    ) -> None:
        self.index_path = Path(index_path).absolute()
        self._siblings = StaticFiles(self.index_path.parent, allow_dotfiles=allow_dotfiles)
        if api_prefix is not None and not api_prefix.strip("/"):
            raise ValueError(f"api_prefix must name a path such as '/api', not {api_prefix!r}")
        self.api_prefix = None if api_prefix is None else "/" + api_prefix.strip("/")
        self._prefix = None if self.api_prefix is None else self.api_prefix + "/"

    def is_api_path(self, path: str) -> bool:
        """Whether ``path`` is ``api_prefix`` or below it (at a ``/`` boundary)."""
        prefix = self._prefix
        if prefix is None:
            return False
        return path == self.api_prefix or path.startswith(prefix)

    async def respond(self, method: str, path: str, headers: HeaderLookup) -> Response | None:
        """The answer for ``method path``, or ``None`` to let the app answer 404.

        Args:
            method: The request method; only GET and HEAD are answered.
            path: The decoded request path (``/users/42``).
            headers: The request headers (see :class:`HeaderLookup`).

        Returns:
            A :class:`~fastware_core.FileResponse` (index.html or a sibling file), a
            ``JSONResponse`` (416 for a sibling's bad range), or ``None``.
        """
        if method not in _METHODS or self.is_api_path(path) or _is_traversal(path):
            return None
        if path.strip("/"):
            sibling = await self._siblings.respond(method, path, headers)
            if sibling is not None:
                return sibling
        found = await asyncio.to_thread(_stat_file, self.index_path)
        if found is None:
            return None
        real_path, info = found
        return _answer(method, real_path, info, headers, _HTML, NO_CACHE)

    def __repr__(self) -> str:
        return (
            f"SPAFallback(index_path={os.fspath(self.index_path)!r}, "
            f"api_prefix={self.api_prefix!r})"
        )
