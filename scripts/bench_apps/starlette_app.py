"""Idiomatic Starlette: a ``Route`` list and Starlette's own responses.

``/users/{id:int}`` is registered after ``BENCH_DECOYS`` (default 100) parametrised decoy routes,
as a user with a real route table would have it; Starlette matches routes in order, so it pays for
them. ``JSONResponse`` encodes with ``json.dumps`` as users get it out of the box; the echo body
is decoded with msgspec into a Struct.

Run: ``granian --interface asgi --working-dir scripts/bench_apps starlette_app:app``.
"""

from __future__ import annotations

import os

import msgspec
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Route


class Item(msgspec.Struct):
    """The echo payload."""

    name: str
    price: float
    tags: list[str]


BIG = [{"id": i, "name": f"item-{i}", "active": True} for i in range(500)]


async def plaintext(request: Request) -> Response:
    """``GET /plaintext``."""
    return PlainTextResponse("Hello, World!")


async def json_(request: Request) -> Response:
    """``GET /json``."""
    return JSONResponse({"message": "Hello, World!"})


async def user(request: Request) -> Response:
    """``GET /users/{id:int}``."""
    return JSONResponse({"id": request.path_params["id"], "name": "user"})


async def echo(request: Request) -> Response:
    """``POST /echo``: decode into ``Item`` and send it back."""
    try:
        item = msgspec.json.decode(await request.body(), type=Item)
    except (msgspec.DecodeError, UnicodeDecodeError, RecursionError):
        return PlainTextResponse("Bad Request", status_code=400)
    return JSONResponse(msgspec.to_builtins(item))


async def upload(request: Request) -> Response:
    """``POST /upload``: parse the form, read the file, answer its name and size."""
    async with request.form() as form:
        upload = form["file"]
        assert not isinstance(upload, str)
        data = await upload.read()
        return JSONResponse({"filename": upload.filename, "size": len(data)})


async def big(request: Request) -> Response:
    """``GET /big``: 500 small objects."""
    return JSONResponse(BIG)


async def decoy(request: Request) -> Response:
    """A route that the benchmark never requests."""
    return JSONResponse(request.path_params)


def decoy_paths(count: int) -> list[str]:
    """The decoy route table shared (by construction) with ``fastware_app.py``."""
    shapes = (
        "/decoy{i}/{{id:int}}/detail",
        "/users{i}/{{name}}",
        "/users/{{id:int}}/posts{i}",
        "/api/v1/things{i}/{{slug}}/items/{{item_id:int}}",
        "/orgs/{{org}}/projects{i}/{{project_id:int}}",
    )
    return [shapes[i % len(shapes)].format(i=i) for i in range(count)]


DECOYS = int(os.environ.get("BENCH_DECOYS", "100"))

routes = [
    Route("/plaintext", plaintext, methods=["GET"]),
    Route("/json", json_, methods=["GET"]),
    Route("/echo", echo, methods=["POST"]),
    Route("/upload", upload, methods=["POST"]),
    Route("/big", big, methods=["GET"]),
    *(Route(path, decoy, methods=["GET"]) for path in decoy_paths(DECOYS)),
    Route("/users/{id:int}", user, methods=["GET"]),
]

app = Starlette(routes=routes)
