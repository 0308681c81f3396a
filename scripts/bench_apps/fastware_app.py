"""The fastware app under benchmark, written as a user would write it.

``/users/{id:int}`` is registered after ``BENCH_DECOYS`` (default 100) parametrised decoy routes,
the same table ``starlette_app.py`` builds, so a router that scans routes in order would pay for
them. The compiled router must not: ``scripts/bench`` compares ``BENCH_DECOYS=10`` with ``1000``.

Run: ``granian --interface rsgi --working-dir scripts/bench_apps fastware_app:app`` (the RSGI
door) or ``--interface asgi`` (the ASGI door).
"""

from __future__ import annotations

import os

import msgspec

from fastware_core import Request, Router, TextResponse
from fastware_core import create_app as create_core_app
from fastware_core.forms import UploadFile

router = Router()


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


BIG = [Small(id=i, name=f"item-{i}", active=True) for i in range(500)]


@router.get("/plaintext")
async def plaintext(request: Request) -> TextResponse:
    """``GET /plaintext``."""
    return TextResponse("Hello, World!")


@router.get("/json")
async def json_(request: Request) -> dict[str, str]:
    """``GET /json``."""
    return {"message": "Hello, World!"}


@router.post("/echo")
async def echo(request: Request) -> Item:
    """``POST /echo``: decode into ``Item`` and send it back."""
    return request.json_as(Item)


@router.post("/upload")
async def upload(request: Request) -> dict[str, object]:
    """``POST /upload``: parse the form, read the file, answer its name and size."""
    form = await request.form()
    upload = form["file"]
    assert isinstance(upload, UploadFile)
    data = await upload.read()
    return {"filename": upload.filename, "size": len(data)}


class Placed(msgspec.Struct):
    """The answer of ``POST /shops/{id}/items``."""

    shop_id: int
    limit: int
    sort: str
    name: str
    price: float
    tags: list[str]


@router.post("/shops/{shop_id:int}/items")
async def place(shop_id: int, item: Item, limit: int = 10, sort: str = "name") -> Placed:
    """``POST /shops/{id}/items``: typed parameters (a path int, two query values, a body)."""
    return Placed(shop_id, limit, sort, item.name, item.price, item.tags)


@router.post("/manual/shops/{shop_id:int}/items")
async def place_by_hand(request: Request) -> Placed:
    """The same, written by hand with ``request.json_as`` and ``request.query``."""
    item = request.json_as(Item)
    return Placed(
        request.path_params["shop_id"],
        request.query("limit", 10, type_=int),
        request.query("sort", "name"),
        item.name,
        item.price,
        item.tags,
    )


@router.get("/big")
async def big(request: Request) -> list[Small]:
    """``GET /big``: 500 small objects, built once at import."""
    return BIG


def decoy_paths(count: int) -> list[str]:
    """The decoy route table, the same as ``starlette_app.py`` builds."""
    shapes = (
        "/decoy{i}/{{id:int}}/detail",
        "/users{i}/{{name}}",
        "/users/{{id:int}}/posts{i}",
        "/api/v1/things{i}/{{slug}}/items/{{item_id:int}}",
        "/orgs/{{org}}/projects{i}/{{project_id:int}}",
    )
    return [shapes[i % len(shapes)].format(i=i) for i in range(count)]


def _register_decoy(path: str, index: int) -> None:
    async def decoy(request: Request) -> dict[str, object]:
        return dict(request.path_params)

    decoy.__name__ = decoy.__qualname__ = f"decoy_{index}"
    router.get(path)(decoy)


for _index, _path in enumerate(decoy_paths(int(os.environ.get("BENCH_DECOYS", "100")))):
    _register_decoy(_path, _index)


@router.get("/users/{id:int}")
async def user(request: Request) -> dict[str, object]:
    """``GET /users/{id:int}``, registered after the decoys."""
    return {"id": request.path_params["id"], "name": "user"}


def get_settings() -> dict[str, int]:
    """A plain sync dependency without arguments."""
    return SETTINGS


async def get_user(request: Request) -> str:
    """A plain async dependency that reads the request."""
    return request.headers.get("x-user", "anonymous")


def get_limit(request: Request) -> int:
    """A plain sync dependency that reads the request."""
    return SETTINGS["limit"]


SETTINGS = {"limit": 10}


if os.environ.get("BENCH_DI"):

    @router.get("/deps", deps={"settings": get_settings, "user": get_user, "limit": get_limit})
    async def with_deps(
        request: Request, settings: dict[str, int], user: str, limit: int
    ) -> dict[str, str]:
        """``GET /deps``: the /json answer from a route with three plain dependencies."""
        return {"message": "Hello, World!"}

    # fastware.create_app wires fastware-di's resolver into the app.
    from fastware import create_app
else:
    create_app = create_core_app

if os.environ.get("BENCH_ERRORLOG"):

    @router.get("/raise")
    async def raise_(request: Request) -> None:
        """``GET /raise``: an unhandled exception (500, and a row in the error log)."""
        raise ValueError("the benchmark's unhandled exception")

    # fastware.create_app wires in the error log ($FASTWARE_ERROR_LOG).
    from fastware import create_app

# BENCH_FLAGS=1 adds /gated, the /json answer gated on a feature flag that is on, read from
# FeatureFlags with a JSON overrides store (checked by stat at most once a second).
features = None
if os.environ.get("BENCH_FLAGS"):
    import tempfile

    from fastware_flags import FeatureFlags

    features = FeatureFlags(
        {"bench": True}, overrides_path=os.path.join(tempfile.gettempdir(), "fw-bench-flags.json")
    )

    @router.get("/gated", feature="bench")
    async def gated(request: Request) -> dict[str, str]:
        """``GET /gated``: the /json answer, behind ``feature="bench"``."""
        return {"message": "Hello, World!"}


if os.environ.get("BENCH_AUTH"):
    from typing import Annotated

    from fastware import Depends
    from fastware import create_app as create_full_app
    from fastware_auth import Auth, rate_limit

    # The secret scripts/bench.py signs its token with.
    auth = Auth("bench-secret-0123456789-abcdefghijklmnop")

    @router.get("/authed")
    async def authed(
        request: Request, user: Annotated[dict[str, object], Depends(auth.current_user)]
    ) -> dict[str, str]:
        """``GET /authed``: the /json answer behind a bearer JWT verified per request."""
        return {"message": "Hello, World!"}

    @router.get("/limited")
    @rate_limit("1000000000/second")
    async def limited(request: Request) -> dict[str, str]:
        """``GET /limited``: the /json answer behind an in-memory rate limit (never refuses)."""
        return {"message": "Hello, World!"}

    create_app = create_full_app

# BENCH_STACK=default keeps create_app's default middleware (request ids and timing) on, to
# measure what the default stack costs against the bare app.
if os.environ.get("BENCH_STACK") == "default":
    app = create_app(router, features=features)
else:
    app = create_app(router, request_id=False, request_timing=False, features=features)
