"""Hand-written ASGI app: the floor every ASGI framework is measured against.

It does the least work that still does each endpoint's job: constant bytes for plaintext, msgspec
encoding per request for JSON (so serialisation is paid, as in any real app), the path parsed by
hand for ``/users/{id}``, and the echo body decoded into a ``msgspec.Struct`` and re-encoded.

Run: ``granian --interface asgi --working-dir scripts/bench_apps raw_asgi:app``.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any
from urllib.parse import parse_qsl

import msgspec
from multipart import MultipartError, MultipartSegment, PushMultipartParser, parse_options_header

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]


class Item(msgspec.Struct):
    """The echo payload."""

    name: str
    price: float
    tags: list[str]


class Small(msgspec.Struct):
    """One element of the ``/big`` response."""

    id: int
    name: str
    active: bool


class User(msgspec.Struct):
    """The ``/users/{id}`` response."""

    id: int
    name: str


BIG = [Small(id=i, name=f"item-{i}", active=True) for i in range(500)]
MESSAGE = {"message": "Hello, World!"}
HELLO = b"Hello, World!"

encode = msgspec.json.encode
decode_item = msgspec.json.Decoder(Item).decode

TEXT_HEADERS = [(b"content-type", b"text/plain; charset=utf-8")]
JSON_HEADERS = [(b"content-type", b"application/json")]


def _start(status: int, headers: list[tuple[bytes, bytes]]) -> Message:
    return {"type": "http.response.start", "status": status, "headers": headers}


def _body(body: bytes) -> Message:
    return {"type": "http.response.body", "body": body}


async def _read_body(receive: Receive) -> bytes:
    message = await receive()
    body: bytes = message.get("body", b"")
    if not message.get("more_body", False):
        return body
    chunks = [body]
    while message.get("more_body", False):
        message = await receive()
        chunks.append(message.get("body", b""))
    return b"".join(chunks)


async def _upload(scope: Scope, receive: Receive) -> dict[str, object]:
    """Stream the multipart body through the push parser, counting the file's bytes: the
    least work that still parses a form (fastware uses the same parser)."""
    content_type = next(v for k, v in scope["headers"] if k == b"content-type").decode()
    boundary = parse_options_header(content_type)[1]["boundary"]
    filename = None
    size = 0
    in_file = False
    with PushMultipartParser(boundary) as parser:
        more = True
        while more:
            message = await receive()
            more = message.get("more_body", False)
            if not message.get("body"):
                continue
            for event in parser.parse(message.get("body", b"")):
                if event is None:
                    in_file = False
                elif isinstance(event, MultipartSegment):
                    in_file = event.filename is not None
                    if in_file:
                        filename = event.filename
                elif in_file:
                    size += len(event)
            if not more:
                for event in parser.parse(b""):
                    if event is None:
                        in_file = False
    return {"filename": filename, "size": size}


async def _lifespan(receive: Receive, send: Send) -> None:
    while True:
        message = await receive()
        if message["type"] == "lifespan.startup":
            await send({"type": "lifespan.startup.complete"})
        elif message["type"] == "lifespan.shutdown":
            await send({"type": "lifespan.shutdown.complete"})
            return


class Placed(msgspec.Struct):
    """The answer of ``POST /shops/{id}/items``."""

    shop_id: int
    limit: int
    sort: str
    name: str
    price: float
    tags: list[str]


def _place(scope: Scope, path: str, raw: bytes) -> tuple[int, list[tuple[bytes, bytes]], bytes]:
    """``POST /shops/{id}/items?limit=&sort=`` (and its ``/manual`` twin), by hand."""
    parts = path.split("/")
    shop = parts[-2]
    if parts[:-2] not in (["", "shops"], ["", "manual", "shops"]) or not shop.isdigit():
        return 404, TEXT_HEADERS, b"Not Found"
    query = dict(parse_qsl(scope["query_string"].decode("latin-1")))
    try:
        item = decode_item(raw)
        limit = int(query.get("limit", "10"))
    except (msgspec.DecodeError, UnicodeDecodeError, RecursionError, ValueError):
        return 400, TEXT_HEADERS, b"Bad Request"
    placed = Placed(int(shop), limit, query.get("sort", "name"), item.name, item.price, item.tags)
    return 200, JSON_HEADERS, encode(placed)


async def app(scope: Scope, receive: Receive, send: Send) -> None:
    """Serve the benchmark endpoints."""
    if scope["type"] != "http":
        if scope["type"] == "lifespan":
            await _lifespan(receive, send)
        return
    path: str = scope["path"]
    method: str = scope["method"]
    status = 200
    headers = JSON_HEADERS
    if method == "GET":
        if path == "/plaintext":
            headers = TEXT_HEADERS
            body = HELLO
        elif path == "/json":
            body = encode(MESSAGE)
        elif path == "/big":
            body = encode(BIG)
        elif path.startswith("/users/") and path[7:].isdigit():
            body = encode(User(id=int(path[7:]), name="user"))
        else:
            status, headers, body = 404, TEXT_HEADERS, b"Not Found"
    elif method == "POST" and path == "/upload":
        try:
            body = encode(await _upload(scope, receive))
        except (MultipartError, ValueError):
            status, headers, body = 400, TEXT_HEADERS, b"Bad Request"
    elif method == "POST" and path == "/echo":
        try:
            body = encode(decode_item(await _read_body(receive)))
        except (msgspec.DecodeError, UnicodeDecodeError, RecursionError):
            status, headers, body = 400, TEXT_HEADERS, b"Bad Request"
    elif method == "POST" and path.endswith("/items"):
        status, headers, body = _place(scope, path, await _read_body(receive))
    else:
        status, headers, body = 404, TEXT_HEADERS, b"Not Found"
    await send(_start(status, headers))
    await send(_body(body))
