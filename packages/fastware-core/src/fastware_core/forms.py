"""Form bodies: ``await request.form()`` for URL-encoded and multipart posts.

A ``multipart/form-data`` body is never read whole: the doors hand it over unread and
:func:`read_form` streams it through the ``multipart`` package's push parser (install
``fastware-core[forms]``; the ``fastware`` meta-package does). Text fields are kept in
memory; each uploaded file goes to an :class:`UploadFile` that holds up to
``FormLimits.spool_size`` bytes in memory and rolls over to an anonymous temporary file past
it. Every limit in :class:`FormLimits` answers 413 (sizes and counts) or 400 (malformed
input) with a JSON ``{"detail": ...}`` body. The files are closed, and their temporary files
removed, when the handler returns.

``application/x-www-form-urlencoded`` bodies are small by nature: the door reads them as
any other body (``max_body_size`` applies) and they are parsed from memory.
"""

from __future__ import annotations

import asyncio
import contextlib
import tempfile
from collections.abc import AsyncIterator, Iterator, Mapping
from dataclasses import dataclass
from typing import IO, TYPE_CHECKING, Any, Literal, cast
from urllib.parse import parse_qsl

from .datastructures import Headers
from .exceptions import HTTPError, MissingPackageError
from .request import body_consumed, body_is_streamed

if TYPE_CHECKING:
    from .request import Request

__all__ = (
    "FormData",
    "FormLimits",
    "UploadFile",
    "parse_urlencoded",
    "read_form",
    "read_whole_body",
)

MiB = 1024 * 1024
_FLUSH = 256 * 1024  # a file part's bytes are written in batches of at least this much


@dataclass(slots=True, frozen=True)
class FormLimits:
    """Limits applied while a form body is read (each one answers 413 when exceeded).

    Pass one to ``create_app(form_limits=...)`` for the whole app or to
    ``request.form(limits=...)`` for one route.
    """

    max_size: int | Literal["app"] | None = "app"
    """The whole body, in bytes: ``"app"`` uses the app's ``max_body_size``; ``None`` means no
    limit beyond the per-part ones."""
    max_fields: int = 1000
    """Text fields (parts without a file name; pairs of a URL-encoded body)."""
    max_files: int = 100
    """Uploaded files."""
    max_field_size: int = 1 * MiB
    """One text field's value, in bytes."""
    max_file_size: int | None = None
    """One uploaded file, in bytes (``None``: only ``max_size`` bounds it)."""
    max_part_header_size: int = 8 * 1024
    """One header line of a part (``Content-Disposition`` with its file name, ...)."""
    max_part_headers: int = 16
    """Header lines in one part."""
    spool_size: int = 1 * MiB
    """Bytes of a file kept in memory before it rolls over to a temporary file on disk."""
    temp_dir: str | None = None
    """Where rolled-over files go (the system's temporary directory by default)."""

    def __post_init__(self) -> None:
        for name in ("max_fields", "max_files", "max_field_size", "max_part_headers"):
            if getattr(self, name) < 0:
                raise ValueError(f"FormLimits.{name} must be >= 0")
        if self.max_part_header_size < 64:
            raise ValueError("FormLimits.max_part_header_size must be at least 64")
        if self.spool_size < 0:
            raise ValueError("FormLimits.spool_size must be >= 0")
        if self.max_size != "app" and self.max_size is not None and self.max_size < 0:
            raise ValueError("FormLimits.max_size must be >= 0, None or 'app'")


DEFAULT_LIMITS = FormLimits()


class UploadFile:
    """One uploaded file of a multipart form.

    The content lives in a :class:`tempfile.SpooledTemporaryFile`: in memory up to
    ``FormLimits.spool_size`` bytes, then in an anonymous temporary file that disappears
    when it is closed. The async methods run disk I/O in a worker thread once the file has
    rolled over; :attr:`file` is the underlying file for synchronous code (in a thread).
    """

    __slots__ = ("content_type", "file", "filename", "headers", "name", "size")

    name: str
    """The form field name."""
    filename: str | None
    """The file name the client sent (never trust it as a path), or ``None``."""
    content_type: str
    """The part's media type (``application/octet-stream`` when the client sent none)."""
    headers: Headers
    """Every header of the part."""
    size: int
    """The number of bytes received."""
    file: IO[bytes]
    """The spooled file (positioned at the start once the form was read)."""

    def __init__(
        self,
        name: str,
        filename: str | None,
        content_type: str = "application/octet-stream",
        headers: Headers | None = None,
        *,
        spool_size: int = 1 * MiB,
        temp_dir: str | None = None,
    ) -> None:
        self.name = name
        self.filename = filename
        self.content_type = content_type
        self.headers = headers if headers is not None else Headers()
        self.size = 0
        self.file = cast(
            IO[bytes],
            tempfile.SpooledTemporaryFile(max_size=spool_size, dir=temp_dir),  # noqa: SIM115
        )

    @property
    def in_memory(self) -> bool:
        """Whether the content is still held in memory (not rolled over to disk)."""
        return not getattr(self.file, "_rolled", True)

    def fits_in_memory(self, size: int) -> bool:
        """Whether ``size`` more bytes can be written without rolling over to disk."""
        file = self.file
        return self.in_memory and file.tell() + size <= cast(Any, file)._max_size

    async def write(self, data: bytes) -> None:
        """Append ``data`` (in a thread once the file is on disk, or about to be)."""
        file = self.file
        if self.fits_in_memory(len(data)):
            file.write(data)
        else:
            await asyncio.to_thread(file.write, data)
        self.size += len(data)

    async def read(self, size: int = -1) -> bytes:
        """Read up to ``size`` bytes (everything left with ``-1``)."""
        if self.in_memory:
            return self.file.read(size)
        return await asyncio.to_thread(self.file.read, size)

    async def seek(self, offset: int, whence: int = 0) -> int:
        """Move the read position; returns the new position."""
        if self.in_memory:
            return self.file.seek(offset, whence)
        return await asyncio.to_thread(self.file.seek, offset, whence)

    async def chunks(self, size: int = 64 * 1024) -> AsyncIterator[bytes]:
        """Yield the content from the current position in pieces of at most ``size``."""
        while True:
            chunk = await self.read(size)
            if not chunk:
                return
            yield chunk

    async def close(self) -> None:
        """Close the file (a temporary file on disk is removed)."""
        if self.in_memory:
            self.file.close()
        else:
            await asyncio.to_thread(self.file.close)

    @property
    def closed(self) -> bool:
        """Whether the file was closed."""
        return bool(self.file.closed)

    def __repr__(self) -> str:
        return (
            f"UploadFile(name={self.name!r}, filename={self.filename!r}, "
            f"content_type={self.content_type!r}, size={self.size})"
        )


FormValue = str | UploadFile


class FormData(Mapping[str, FormValue]):
    """A read-only multi-mapping of a form's fields: text values and :class:`UploadFile`.

    Indexing returns the first value of a name; :meth:`getlist` returns all of them in the
    order sent; :meth:`multi_items` returns every ``(name, value)`` pair.
    """

    __slots__ = ("_dict", "_items")

    def __init__(self, items: list[tuple[str, FormValue]] | None = None) -> None:
        self._items: list[tuple[str, FormValue]] = items or []
        self._dict: dict[str, FormValue] = {}
        for key, value in self._items:
            self._dict.setdefault(key, value)

    def __getitem__(self, name: str) -> FormValue:
        return self._dict[name]

    def __iter__(self) -> Iterator[str]:
        return iter(self._dict)

    def __len__(self) -> int:
        return len(self._dict)

    def getlist(self, name: str) -> list[FormValue]:
        """Every value sent under ``name`` (``[]`` when absent)."""
        return [value for key, value in self._items if key == name]

    def multi_items(self) -> list[tuple[str, FormValue]]:
        """Every ``(name, value)`` pair, repeats included, in the order sent."""
        return list(self._items)

    def files(self) -> list[UploadFile]:
        """Every uploaded file."""
        return [value for _, value in self._items if isinstance(value, UploadFile)]

    async def close(self) -> None:
        """Close every uploaded file (the app does it when the handler returns)."""
        for upload in self.files():
            await upload.close()

    def close_now(self) -> None:
        """Close every uploaded file synchronously (what the app does at the request's end)."""
        for upload in self.files():
            upload.file.close()

    def __repr__(self) -> str:
        return f"FormData({self._items!r})"


def parse_urlencoded(body: bytes | None, limits: FormLimits = DEFAULT_LIMITS) -> FormData:
    """Parse an ``application/x-www-form-urlencoded`` body (blank values kept).

    Raises:
        HTTPError: 400 when it is not valid UTF-8; 413 past ``max_fields`` or
            ``max_field_size``.
    """
    if not body:
        return FormData()
    try:
        text = body.decode("utf-8")
        pairs = parse_qsl(
            text,
            keep_blank_values=True,
            errors="strict",
            max_num_fields=limits.max_fields or None,
        )
    except UnicodeDecodeError:
        raise HTTPError(400, "Form body is not valid UTF-8") from None
    except ValueError:
        raise HTTPError(413, f"Too many form fields (the limit is {limits.max_fields})") from None
    if limits.max_fields == 0 and pairs:
        raise HTTPError(413, "Too many form fields (the limit is 0)")
    for name, value in pairs:
        if len(value) > limits.max_field_size:
            raise HTTPError(
                413,
                f"Form field {name!r} is too large (the limit is {limits.max_field_size} bytes)",
            )
    return FormData(list(pairs))


def _parser_module() -> Any:
    try:
        import multipart
    except ImportError:  # pragma: no cover - the test environment installs it
        raise MissingPackageError(
            "'fastware-core[forms]'", "Reading a multipart/form-data body (request.form())"
        ) from None
    return multipart


def _boundary(content_type: str, options_parser: Any) -> str:
    _, options = options_parser(content_type)
    boundary = options.get("boundary", "")
    if not boundary:
        raise HTTPError(400, "multipart/form-data body without a boundary")
    if len(boundary) > 200 or not boundary.isascii():
        raise HTTPError(400, "Invalid multipart boundary")
    return str(boundary)


async def _body_chunks(request: Request) -> AsyncIterator[bytes]:
    """The request body as it arrives, from whichever door brought it."""
    conn: Any = request.connection
    if conn.door == "rsgi":
        try:
            async for chunk in conn.protocol:
                if chunk:
                    yield chunk
        except (RuntimeError, ConnectionError):  # Granian's RSGIProtocolClosed/Error
            raise HTTPError(400, "Client disconnected before the form was received") from None
        return
    receive = conn.receive
    if receive is None:
        return
    while True:
        message = await receive()
        kind = message["type"]
        if kind == "http.disconnect":
            raise HTTPError(400, "Client disconnected before the form was received")
        chunk = message.get("body", b"")
        if chunk:
            yield chunk
        if not message.get("more_body", False):
            return


async def read_whole_body(request: Request) -> bytes | None:
    """Read a body the door left unread into memory (``max_body_size`` and ``body_timeout``
    apply), for ``request.read_body()``."""
    app = request.app
    limit = None if app is None else app.max_body_size
    chunks: list[bytes] = []
    size = 0
    try:
        with app.body_deadline() if app is not None else contextlib.nullcontext():
            async for chunk in _body_chunks(request):
                size += len(chunk)
                if limit is not None and size > limit:
                    raise HTTPError(413, "Request body too large")
                chunks.append(chunk)
    finally:
        body_consumed(request)
    return b"".join(chunks) or None


def _total_limit(limits: FormLimits, app: Any) -> int | None:
    if limits.max_size == "app":
        return None if app is None else cast("int | None", app.max_body_size)
    return limits.max_size


async def read_form(request: Request, limits: FormLimits | None = None) -> FormData:
    """Read and parse the request's form body (what ``request.form()`` calls).

    Raises:
        HTTPError: 415 when the body is not a form; 400 for a malformed body or a client
            that left; 408 when it does not arrive within the app's ``body_timeout``; 413
            past a limit of ``limits``.
        MissingPackageError: for a multipart body without the ``multipart`` package.
    """
    app = request.app
    if limits is None:
        limits = getattr(app, "form_limits", None) or DEFAULT_LIMITS
    content_type = request.header("content-type") or ""
    media = content_type.partition(";")[0].strip().lower()
    if media == "application/x-www-form-urlencoded":
        return parse_urlencoded(request.body, limits)
    if media != "multipart/form-data":
        raise HTTPError(
            415,
            "Request body must be a form (application/x-www-form-urlencoded or "
            "multipart/form-data), got "
            + (repr(content_type) if content_type else "no Content-Type"),
        )
    multipart = _parser_module()
    boundary = _boundary(content_type, multipart.parse_options_header)
    streamed = body_is_streamed(request)
    source = _body_chunks(request) if streamed else _bytes_source(request.body)
    reader = _MultipartReader(multipart, boundary, limits, _total_limit(limits, app))
    deadline = app.body_deadline() if streamed and app is not None else contextlib.nullcontext()
    try:
        with deadline:
            await reader.run(source)
    except BaseException:
        reader.abandon()
        raise
    finally:
        if streamed:
            body_consumed(request)
    return FormData(reader.items)


async def _bytes_source(body: bytes | None) -> AsyncIterator[bytes]:
    if body:
        yield body


class _MultipartReader:
    """Drives the push parser over the body's chunks, enforcing :class:`FormLimits`."""

    def __init__(
        self, multipart: Any, boundary: str, limits: FormLimits, total: int | None
    ) -> None:
        self.multipart = multipart
        self.limits = limits
        self.total = total
        self.items: list[tuple[str, FormValue]] = []
        self.fields = 0
        self.files = 0
        self.parser = multipart.PushMultipartParser(
            boundary,
            max_header_size=limits.max_part_header_size,
            max_header_count=limits.max_part_headers,
            max_segment_count=limits.max_fields + limits.max_files + 1,
            strict=True,
        )

    def abandon(self) -> None:
        for _, value in self.items:
            if isinstance(value, UploadFile):
                value.file.close()

    async def run(self, source: AsyncIterator[bytes]) -> None:
        multipart = self.multipart
        received = 0
        total = self.total
        state = _PartState()
        try:
            async for chunk in source:
                received += len(chunk)
                if total is not None and received > total:
                    raise HTTPError(413, "Request body too large")
                await self._feed(chunk, state)
            await self._feed(b"", state)
            if not self.parser.closed:
                self.parser.close()
        except multipart.ParserLimitReached as exc:
            raise HTTPError(413, f"Multipart body over a limit: {exc}") from None
        except (multipart.MultipartError, UnicodeDecodeError) as exc:
            raise HTTPError(400, f"Malformed multipart body: {_reason(exc)}") from None
        for _, value in self.items:
            if isinstance(value, UploadFile):
                await value.seek(0)

    async def _feed(self, chunk: bytes, state: _PartState) -> None:
        limits = self.limits
        for event in self.parser.parse(chunk):
            if event is None:  # end of the part
                await state.finish(self.items)
            elif isinstance(event, (bytes, bytearray, memoryview)):
                await state.data(bytes(event))
            else:
                state.start(event, self, limits)
        if state.pending_size >= _FLUSH:
            await state.flush()


class _PartState:
    """The part being read: a text field's bytes, or an upload's pending bytes."""

    __slots__ = ("buffer", "limit", "name", "pending_size", "upload")

    def __init__(self) -> None:
        self.name = ""
        self.upload: UploadFile | None = None
        self.buffer: list[bytes] = []
        self.pending_size = 0
        self.limit: int | None = None

    def start(self, segment: Any, reader: _MultipartReader, limits: FormLimits) -> None:
        name = segment.name
        if not isinstance(name, str):
            raise HTTPError(400, "Malformed multipart body: a part has no field name")
        self.name = name
        self.buffer = []
        self.pending_size = 0
        if segment.filename is not None:
            reader.files += 1
            if reader.files > limits.max_files:
                raise HTTPError(413, f"Too many files (the limit is {limits.max_files})")
            headers = Headers([(k.lower(), v) for k, v in segment.headerlist])
            self.upload = UploadFile(
                name,
                segment.filename,
                headers.get("content-type") or "application/octet-stream",
                headers,
                spool_size=limits.spool_size,
                temp_dir=limits.temp_dir,
            )
            reader.items.append((name, self.upload))
            self.limit = limits.max_file_size
        else:
            reader.fields += 1
            if reader.fields > limits.max_fields:
                raise HTTPError(413, f"Too many form fields (the limit is {limits.max_fields})")
            self.upload = None
            self.limit = limits.max_field_size

    async def data(self, data: bytes) -> None:
        self.pending_size += len(data)
        size = self.pending_size + (self.upload.size if self.upload is not None else 0)
        if self.limit is not None and size > self.limit:
            kind = "File" if self.upload is not None else "Form field"
            raise HTTPError(
                413, f"{kind} {self.name!r} is too large (the limit is {self.limit} bytes)"
            )
        upload = self.upload
        if upload is not None and not self.buffer and upload.fits_in_memory(len(data)):
            # Still under the spool size: straight into memory, no batching or joining
            # (a joined 1 MiB block costs more in allocation than the write itself).
            upload.file.write(data)
            upload.size += len(data)
            self.pending_size = 0
            return
        self.buffer.append(data)

    async def flush(self) -> None:
        if self.upload is not None and self.buffer:
            data = b"".join(self.buffer)
            self.buffer = []
            self.pending_size = 0
            await self.upload.write(data)

    async def finish(self, items: list[tuple[str, FormValue]]) -> None:
        if self.upload is not None:
            await self.flush()
            self.upload = None
            return
        try:
            value = b"".join(self.buffer).decode("utf-8")
        except UnicodeDecodeError:
            raise HTTPError(400, f"Form field {self.name!r} is not valid UTF-8") from None
        items.append((self.name, value))
        self.buffer = []
        self.pending_size = 0


def _reason(exc: BaseException) -> str:
    if isinstance(exc, UnicodeDecodeError):
        return "a part header is not valid UTF-8"
    text = str(exc.args[0]) if exc.args else type(exc).__name__
    return text.rstrip(".")
