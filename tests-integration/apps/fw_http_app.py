"""The fastware app served by a real Granian in tests-integration (both RSGI and ASGI).

Granian loads it as ``fw_http_app:app`` with ``--working-dir`` pointing at this directory.
Module-level counters live in the worker process, so a route can report what happened to
an earlier request (a stream's generator starting and running its ``finally``).
"""

from __future__ import annotations

import asyncio
import os
from collections import Counter
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import msgspec

from fastware_core import (
    App,
    BytesResponse,
    FileResponse,
    HTMLResponse,
    HTTPError,
    JSONResponse,
    RedirectResponse,
    Request,
    Router,
    StreamResponse,
    TextResponse,
    WebSocket,
    create_app,
    set_cookie,
)

MAX_BODY_SIZE = 256 * 1024  # room for 100,000-deep JSON (200,000 bytes)
SAMPLE_FILE = Path(__file__).resolve().parent / "data" / "sample.txt"

# Per stream key: how many times the generator started and how many times its finally ran.
STREAM_STARTS: Counter[str] = Counter()
STREAM_FINALLY: Counter[str] = Counter()

router = Router()


class Item(msgspec.Struct):
    name: str
    price: float


@dataclass
class Point:
    x: int
    y: int


class TeapotError(Exception):
    """Raised by a route; turned into a 409 by the app's exception handler."""


# -- routing ------------------------------------------------------------------------------------


@router.get("/")
async def index(request: Request) -> dict[str, Any]:
    return {"hello": "world"}


@router.get("/users/me")
async def users_me(request: Request) -> dict[str, Any]:
    return {"route": "me"}


@router.get("/users/{user_id:int}")
async def user_by_id(request: Request) -> dict[str, Any]:
    return {"route": "int", "user_id": request.path_params["user_id"]}


@router.get("/users/{name}")
async def user_by_name(request: Request) -> dict[str, Any]:
    return {"route": "str", "name": request.path_params["name"]}


@router.get("/items/{item_id:uuid}")
async def item_by_uuid(request: Request) -> dict[str, Any]:
    return {"item_id": str(request.path_params["item_id"])}


@router.get("/files/{rest:path}")
async def files(request: Request) -> dict[str, Any]:
    return {"rest": request.path_params["rest"]}


@router.route("/things", methods=["GET", "POST", "DELETE"])
async def things(request: Request) -> dict[str, Any]:
    return {"method": request.method}


@router.get("/slash/")
async def slash(request: Request) -> dict[str, Any]:
    return {"route": "slash"}


# -- response kinds -----------------------------------------------------------------------------


@router.get("/text")
async def text(request: Request) -> TextResponse:
    return TextResponse("héllo")


@router.get("/no-content")
async def no_content(request: Request) -> TextResponse:
    return TextResponse("", status=204)


@router.get("/empty-text")
async def empty_text(request: Request) -> TextResponse:
    return TextResponse("")


@router.get("/csv")
async def csv(request: Request) -> TextResponse:
    return TextResponse("a,b\n1,2\n", content_type="text/csv")


@router.get("/html")
async def html(request: Request) -> HTMLResponse:
    return HTMLResponse("<h1>hi</h1>")


@router.get("/bytes")
async def raw_bytes(request: Request) -> BytesResponse:
    return BytesResponse(b"\x00\x01\x02\xff", content_type="application/x-custom")


@router.get("/redirect")
async def redirect(request: Request) -> RedirectResponse:
    return RedirectResponse("/target?x=1")


@router.get("/redirect-303")
async def redirect_303(request: Request) -> RedirectResponse:
    return RedirectResponse("/target", status=303)


@router.get("/file")
async def file(request: Request) -> FileResponse:
    return FileResponse(SAMPLE_FILE)


@router.get("/file-download")
async def file_download(request: Request) -> FileResponse:
    return FileResponse(SAMPLE_FILE, filename="report.txt")


@router.get("/file-chunked/{size:int}")
async def file_chunked(request: Request) -> FileResponse:
    return FileResponse(SAMPLE_FILE, chunk_size=request.path_params["size"])


@router.get("/file-missing")
async def file_missing(request: Request) -> FileResponse:
    return FileResponse(SAMPLE_FILE.with_name("does-not-exist.txt"))


@router.get("/headers")
async def headers(request: Request) -> JSONResponse:
    return JSONResponse(
        {"ok": True},
        status=201,
        headers={"X-Multi": ["one", "two"], "X-Single": "solo"},
        cookies=[set_cookie("session", "abc123", httponly=True), set_cookie("theme", "dark")],
    )


@router.get("/list")
async def a_list(request: Request) -> list[int]:
    return [1, 2, 3]


@router.get("/struct")
async def a_struct(request: Request) -> Item:
    return Item(name="widget", price=9.5)


@router.get("/dataclass")
async def a_dataclass(request: Request) -> Point:
    return Point(x=1, y=2)


@router.get("/sync")
def sync_handler(request: Request) -> dict[str, Any]:
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        on_loop = False
    else:
        on_loop = True
    return {"sync": True, "on_event_loop": on_loop}


# -- errors -------------------------------------------------------------------------------------


@router.get("/http-error")
async def http_error(request: Request) -> None:
    raise HTTPError(418, "I'm a teapot", headers={"X-Tea": "earl-grey"})


@router.get("/handled-error")
async def handled_error(request: Request) -> None:
    raise TeapotError("the pot is empty")


@router.get("/crash")
async def crash(request: Request) -> None:
    raise RuntimeError("a bug in a handler")


def handle_teapot(request: Request, exc: TeapotError) -> JSONResponse:
    return JSONResponse({"handled": str(exc), "path": request.path}, status=409)


# -- request data -------------------------------------------------------------------------------


@router.get("/query")
async def query(request: Request) -> dict[str, Any]:
    return {
        "flag": request.query("flag", False, type_=bool),
        "n": request.query("n", 0, type_=int, ge=0, le=100),
        "tags": request.query_list("tag"),
    }


@router.get("/query-raw")
async def query_raw(request: Request) -> dict[str, Any]:
    return {"params": dict(request.query_params)}


@router.post("/echo-json")
async def echo_json(request: Request) -> dict[str, Any]:
    return {"json": request.json}


@router.post("/item")
async def create_item(request: Request) -> Item:
    return request.json_as(Item)


@router.post("/upload")
async def upload(request: Request) -> dict[str, Any]:
    return {"size": request.body_size}


@router.get("/host")
async def host(request: Request) -> dict[str, Any]:
    return {"host": request.host}


@router.get("/request-headers")
async def request_headers(request: Request) -> dict[str, Any]:
    return {"x_multi": request.headers.getlist("x-multi"), "x_single": request.header("X-Single")}


@router.get("/whoami/{rest:path}")
async def whoami(request: Request) -> dict[str, Any]:
    return {
        "method": request.method,
        "path": request.path,
        "query_string": request.query_string,
        "scheme": request.scheme,
        "http_version": request.http_version,
        "root_path": request.root_path,
        "url": str(request.url),
        "rest": request.path_params["rest"],
    }


@router.get("/cookies")
async def cookies(request: Request) -> dict[str, Any]:
    return {"cookies": request.cookies, "session": request.cookie("session")}


@router.get("/client")
async def client(request: Request) -> dict[str, Any]:
    address = request.client
    return {"host": None if address is None else address.host}


@router.get("/state")
async def state(request: Request) -> dict[str, Any]:
    return {
        "started_by": request.state.get("started_by"),
        "lifespan_pid": request.state.get("lifespan_pid"),
        "worker_pid": os.getpid(),
    }


# -- streaming ----------------------------------------------------------------------------------


async def _forever(key: str) -> AsyncIterator[str]:
    STREAM_STARTS[key] += 1
    try:
        n = 0
        while True:
            yield f"chunk {n}\n"
            n += 1
            await asyncio.sleep(0.02)
    finally:
        STREAM_FINALLY[key] += 1


@router.get("/stream")
async def stream(request: Request) -> StreamResponse:
    key = request.query("key") or "default"
    return StreamResponse(_forever(key), content_type="text/plain")


async def _three() -> AsyncIterator[bytes | str]:
    yield "one\n"
    yield b""  # empty chunks are skipped
    yield b"two\n"
    yield "thr\u00e9e\n"


async def _until_shutdown(app: App) -> AsyncIterator[str]:
    yield "ready\n"
    await app.shutting_down.wait()
    yield "bye\n"


@router.get("/stream-until-shutdown")
async def stream_until_shutdown(request: Request) -> StreamResponse:
    return StreamResponse(_until_shutdown(request.app), content_type="text/plain")


@router.get("/stream-finite")
async def stream_finite(request: Request) -> StreamResponse:
    return StreamResponse(
        _three(),
        content_type="text/plain; charset=utf-8",
        headers={"X-Stream": ["a", "b"]},
        cookies=[set_cookie("streamed", "1")],
    )


async def _broken(key: str) -> AsyncIterator[str]:
    STREAM_STARTS[key] += 1
    try:
        yield "before\n"
        raise RuntimeError("the stream broke")
    finally:
        STREAM_FINALLY[key] += 1


@router.get("/stream-error")
async def stream_error(request: Request) -> StreamResponse:
    return StreamResponse(_broken(request.query("key") or "default"), content_type="text/plain")


@router.get("/stream-stats")
async def stream_stats(request: Request) -> dict[str, Any]:
    key = request.query("key") or "default"
    return {"starts": STREAM_STARTS[key], "finally": STREAM_FINALLY[key]}


# -- the app ------------------------------------------------------------------------------------


def _lifespan_log(event: str) -> None:
    """Append ``<event> <pid>`` to the file named by ``FW_LIFESPAN_LOG``, if set."""
    path = os.environ.get("FW_LIFESPAN_LOG")
    if path:
        with open(path, "a", encoding="utf-8") as log:
            log.write(f"{event} {os.getpid()}\n")


@router.get("/middleware-view")
async def middleware_view(request: Request) -> dict[str, Any]:
    timing = request.app.request_timing
    return {"request_id": request.state.request_id, "count": timing.request_count}


# -- WebSockets -------------------------------------------------------------------------------


@router.ws("/ws/echo/{room}")
async def ws_echo(websocket: WebSocket) -> None:
    await websocket.accept()
    await websocket.send_json(
        {
            "room": websocket.path_params["room"],
            "q": websocket.query_params.get("q"),
            "started_by": websocket.state.get("started_by"),
        }
    )
    async for text in websocket.iter_text():
        if text == "bye":
            await websocket.close(4000, "bye")
            return
        await websocket.send_text(text.upper())


@router.ws("/ws/bytes")
async def ws_bytes(websocket: WebSocket) -> None:
    await websocket.accept()
    async for data in websocket.iter_bytes():
        await websocket.send_bytes(data[::-1])


@router.ws("/ws/fail")
async def ws_fail(websocket: WebSocket) -> None:
    await websocket.accept()
    await websocket.receive_text()
    raise RuntimeError("handler failed")


@router.ws("/ws/forbidden")
async def ws_forbidden(websocket: WebSocket) -> None:
    raise HTTPError(403, "Not for you")


@asynccontextmanager
async def lifespan(app: App) -> AsyncIterator[dict[str, Any]]:
    _lifespan_log("startup")
    try:
        yield {"started_by": "lifespan", "lifespan_pid": os.getpid()}
    finally:
        _lifespan_log("shutdown")


app = create_app(
    router,
    lifespan=lifespan,
    max_body_size=MAX_BODY_SIZE,
    exception_handlers={TeapotError: handle_teapot},
    websocket_origins=["http://allowed.example"],
    cors_origins=["http://allowed.example"],
    websocket_max_message_size=64 * 1024,
)
