"""fastware: a batteries-included ASGI framework.

msgspec JSON, Granian served over RSGI, server-sent events, dependency injection, auth,
feature flags, an error log and a dev mode, as independently installable packages. This
meta-package installs them all and re-exports their public names; every name is imported
on first use, so ``import fastware`` stays cheap (no Granian, PyJWT, bcrypt or redis).

    from fastware import Router, create_app

    router = Router()

    @router.get("/")
    async def index(request):
        return {"hello": "world"}

    app = create_app(router)
"""

from __future__ import annotations

import importlib
from importlib.metadata import PackageNotFoundError, version
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from fastware_auth import Auth, rate_limit
    from fastware_core import (
        AppConfig,
        AsyncTestClient,
        BytesResponse,
        FastwareError,
        FileResponse,
        HTMLResponse,
        HTTPError,
        JSONResponse,
        Receive,
        RedirectResponse,
        Request,
        Router,
        Scope,
        Send,
        State,
        StreamResponse,
        TestClient,
        TextResponse,
        WebSocket,
        WebSocketDisconnect,
        delete_cookie,
        send_error,
        set_cookie,
    )
    from fastware_core.params import (
        Body,
        Cookie,
        Form,
        Header,
        Path,
        Query,
        RequestValidationError,
    )
    from fastware_dev.devconfig import DevConfig, find_dev_pyproject, load_dev_config
    from fastware_dev.exceptions import DevConfigError, DevRunError
    from fastware_dev.supervise import run_dev
    from fastware_di import DependencyResolver, Depends, dependency
    from fastware_server import (
        AlreadyRunningError,
        PortInUseError,
        RegistryEntry,
        ServerStatus,
        check_already_running,
        deregister_instance,
        ensure_port_available,
        list_instances,
        read_port_file,
        register_instance,
        serve,
        serve_background,
        status,
        stop,
        stop_background,
    )
    from fastware_sse import Broadcaster, sse_route

    from .app import create_app

# public name -> module that defines it
_LAZY: dict[str, str] = {
    "Body": "fastware_core.params",
    "Cookie": "fastware_core.params",
    "Header": "fastware_core.params",
    "Path": "fastware_core.params",
    "Query": "fastware_core.params",
    "Form": "fastware_core.params",
    "RequestValidationError": "fastware_core.params",
    "AlreadyRunningError": "fastware_server.exceptions",
    "AppConfig": "fastware_core.app",
    "Auth": "fastware_auth",
    "AsyncTestClient": "fastware_core.testing",
    "Broadcaster": "fastware_sse",
    "BytesResponse": "fastware_core.responses",
    "DependencyResolver": "fastware_di",
    "DevConfig": "fastware_dev.devconfig",
    "DevConfigError": "fastware_dev.exceptions",
    "DevRunError": "fastware_dev.exceptions",
    "Depends": "fastware_di",
    "FastwareError": "fastware_core.exceptions",
    "FileResponse": "fastware_core.responses",
    "HTMLResponse": "fastware_core.responses",
    "HTTPError": "fastware_core.exceptions",
    "JSONResponse": "fastware_core.responses",
    "PortInUseError": "fastware_server.exceptions",
    "Receive": "fastware_core.types",
    "RedirectResponse": "fastware_core.responses",
    "RegistryEntry": "fastware_server.registry",
    "Request": "fastware_core.request",
    "Router": "fastware_core.routing",
    "Scope": "fastware_core.types",
    "Send": "fastware_core.types",
    "ServerStatus": "fastware_server.control",
    "State": "fastware_core.datastructures",
    "StreamResponse": "fastware_core.responses",
    "TestClient": "fastware_core.testing",
    "TextResponse": "fastware_core.responses",
    "WebSocket": "fastware_core.websocket",
    "WebSocketDisconnect": "fastware_core.websocket",
    "check_already_running": "fastware_server.control",
    "create_app": "fastware.app",
    "delete_cookie": "fastware_core.responses",
    "dependency": "fastware_di",
    "deregister_instance": "fastware_server.registry",
    "ensure_port_available": "fastware_server.ports",
    "find_dev_pyproject": "fastware_dev.devconfig",
    "list_instances": "fastware_server.registry",
    "load_dev_config": "fastware_dev.devconfig",
    "rate_limit": "fastware_auth",
    "read_port_file": "fastware_server.process",
    "register_instance": "fastware_server.registry",
    "run_dev": "fastware_dev.supervise",
    "send_error": "fastware_core.responses",
    "serve": "fastware_server.run",
    "serve_background": "fastware_server.detached",
    "set_cookie": "fastware_core.responses",
    "sse_route": "fastware_sse",
    "status": "fastware_server.control",
    "stop": "fastware_server.control",
    "stop_background": "fastware_server.background",
}

try:
    __version__ = version("fastware")
except PackageNotFoundError:  # pragma: no cover - running from an uninstalled tree
    __version__ = "0.0.0"

__all__ = (
    "AlreadyRunningError",
    "AppConfig",
    "AsyncTestClient",
    "Auth",
    "Body",
    "Broadcaster",
    "BytesResponse",
    "Cookie",
    "DependencyResolver",
    "Depends",
    "DevConfig",
    "DevConfigError",
    "DevRunError",
    "FastwareError",
    "FileResponse",
    "Form",
    "HTMLResponse",
    "HTTPError",
    "Header",
    "JSONResponse",
    "Path",
    "PortInUseError",
    "Query",
    "Receive",
    "RedirectResponse",
    "RegistryEntry",
    "Request",
    "RequestValidationError",
    "Router",
    "Scope",
    "Send",
    "ServerStatus",
    "State",
    "StreamResponse",
    "TestClient",
    "TextResponse",
    "WebSocket",
    "WebSocketDisconnect",
    "__version__",
    "check_already_running",
    "create_app",
    "delete_cookie",
    "dependency",
    "deregister_instance",
    "ensure_port_available",
    "find_dev_pyproject",
    "list_instances",
    "load_dev_config",
    "rate_limit",
    "read_port_file",
    "register_instance",
    "run_dev",
    "send_error",
    "serve",
    "serve_background",
    "set_cookie",
    "sse_route",
    "status",
    "stop",
    "stop_background",
)


def __getattr__(name: str) -> Any:
    module_name = _LAZY.get(name)
    if module_name is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    try:
        module = importlib.import_module(module_name)
    except ModuleNotFoundError as exc:
        top = module_name.partition(".")[0]
        if exc.name is None or exc.name.partition(".")[0] != top:
            raise  # something the package itself imports is missing: not ours to rename
        from fastware_core import MissingPackageError

        raise MissingPackageError(top.replace("_", "-"), f"fastware.{name}") from exc
    value = getattr(module, name)
    globals()[name] = value  # later lookups skip __getattr__
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
