"""fastware-core: the fastware HTTP engine.

A complete micro-framework on msgspec alone: a compiled router, requests and responses, an
app that serves both ASGI and Granian's RSGI, and in-process test clients.

    from fastware_core import Router, create_app

    router = Router()

    @router.get("/hello/{name}")
    async def hello(request):
        return {"hello": request.path_params["name"]}

    app = create_app(router)
"""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError, version

from .app import App, AppConfig, create_app
from .datastructures import URL, Address, Headers, QueryParams, State
from .exceptions import (
    FastwareError,
    HTTPError,
    LifespanError,
    MissingPackageError,
    RouteDefinitionError,
)
from .params import Body, Cookie, Form, Header, Path, Query, RequestValidationError
from .request import Request
from .responses import (
    BytesResponse,
    FileResponse,
    HTMLResponse,
    JSONResponse,
    RedirectResponse,
    Response,
    StreamResponse,
    TextResponse,
    delete_cookie,
    send_error,
    set_cookie,
)
from .routing import Router
from .staticfiles import SPAFallback, StaticFiles
from .testing import AsyncTestClient, TestClient
from .types import Receive, Scope, Send
from .websocket import WebSocket, WebSocketDisconnect

try:
    __version__ = version("fastware-core")
except PackageNotFoundError:  # pragma: no cover - running from an uninstalled tree
    __version__ = "0.0.0"

__all__ = (
    "URL",
    "Address",
    "App",
    "AppConfig",
    "AsyncTestClient",
    "Body",
    "BytesResponse",
    "Cookie",
    "FastwareError",
    "FileResponse",
    "Form",
    "HTMLResponse",
    "HTTPError",
    "Header",
    "Headers",
    "JSONResponse",
    "LifespanError",
    "MissingPackageError",
    "Path",
    "Query",
    "QueryParams",
    "Receive",
    "RedirectResponse",
    "Request",
    "RequestValidationError",
    "Response",
    "RouteDefinitionError",
    "Router",
    "SPAFallback",
    "Scope",
    "Send",
    "State",
    "StaticFiles",
    "StreamResponse",
    "TestClient",
    "TextResponse",
    "WebSocket",
    "WebSocketDisconnect",
    "__version__",
    "create_app",
    "delete_cookie",
    "send_error",
    "set_cookie",
)
