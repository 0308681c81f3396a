"""Hand-written RSGI app: the floor for anything served through Granian's native interface.

Same endpoints and the same work per endpoint as ``raw_asgi.py``; each response is one
``protocol.response_bytes`` call.

Run: ``granian --interface rsgi --working-dir scripts/bench_apps raw_rsgi:app``.
"""

from __future__ import annotations

import msgspec
from granian._granian import RSGIHTTPProtocol as HTTPProtocol
from granian.rsgi import Scope


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

TEXT_HEADERS = [("content-type", "text/plain; charset=utf-8")]
JSON_HEADERS = [("content-type", "application/json")]


class App:
    """The RSGI application object Granian calls once per request."""

    async def __rsgi__(self, scope: Scope, protocol: HTTPProtocol) -> None:
        """Serve one request."""
        if scope.proto != "http":
            return
        path = scope.path
        method = scope.method
        if method == "GET":
            if path == "/plaintext":
                protocol.response_bytes(200, TEXT_HEADERS, HELLO)
            elif path == "/json":
                protocol.response_bytes(200, JSON_HEADERS, encode(MESSAGE))
            elif path == "/big":
                protocol.response_bytes(200, JSON_HEADERS, encode(BIG))
            elif path.startswith("/users/") and path[7:].isdigit():
                user = User(id=int(path[7:]), name="user")
                protocol.response_bytes(200, JSON_HEADERS, encode(user))
            else:
                protocol.response_bytes(404, TEXT_HEADERS, b"Not Found")
        elif method == "POST" and path == "/echo":
            try:
                item = decode_item(await protocol())
            except (msgspec.DecodeError, UnicodeDecodeError, RecursionError):
                protocol.response_bytes(400, TEXT_HEADERS, b"Bad Request")
            else:
                protocol.response_bytes(200, JSON_HEADERS, encode(item))
        else:
            protocol.response_bytes(404, TEXT_HEADERS, b"Not Found")


app = App()
