from __future__ import annotations

import importlib
import subprocess
import sys

import pytest

import fastware

# Every submodule path of fastware 0.6.3 (reference §0.1, design.md §3), and its private
# helpers _assets, _fswrite and _scope (§7.3, §20).
COMPAT_MODULES = (
    "_assets",
    "_fswrite",
    "_scope",
    "app",
    "audit",
    "auth",
    "cli",
    "config",
    "dev",
    "devconfig",
    "di",
    "error_log",
    "features",
    "logging",
    "mcp",
    "middleware",
    "request",
    "responses",
    "routing",
    "server",
    "sse",
    "supervise",
    "tasks",
    "testing",
    "types",
    "websocket",
)
# Every name of reference §0.1, eager and lazy.
REFERENCE_NAMES = (
    "Scope",
    "Receive",
    "Send",
    "Router",
    "Request",
    "State",
    "WebSocket",
    "WebSocketDisconnect",
    "JSONResponse",
    "TextResponse",
    "HTMLResponse",
    "BytesResponse",
    "StreamResponse",
    "FileResponse",
    "HTTPError",
    "send_error",
    "set_cookie",
    "delete_cookie",
    "create_app",
    "AppConfig",
    "DependencyResolver",
    "Broadcaster",
    "sse_route",
    "__version__",
    "serve",
    "serve_background",
    "stop",
    "stop_background",
    "status",
    "ServerStatus",
    "PortInUseError",
    "AlreadyRunningError",
    "check_already_running",
    "ensure_port_available",
    "read_port_file",
    "RegistryEntry",
    "register_instance",
    "deregister_instance",
    "list_instances",
    "DevConfig",
    "DevConfigError",
    "load_dev_config",
    "find_dev_pyproject",
    "run_dev",
    "DevRunError",
)
HEAVY = (
    "granian",
    "jwt",
    "bcrypt",
    "redis",
    "httpx",
    "fastware_core",
    "structlog",
    "pydantic",
    "mcp",
    "sentry_sdk",
)
# What the optional extras bring in: importing their fastware modules must not.
EXTRAS = ("structlog", "pydantic", "mcp", "sentry_sdk")


def _modules_after(code: str) -> set[str]:
    script = f"import sys\n{code}\nprint('\\n'.join(sorted(sys.modules)))"
    out = subprocess.run(
        [sys.executable, "-c", script], check=True, capture_output=True, text=True
    ).stdout
    return set(out.split())


def test_import_fastware_loads_no_heavy_module() -> None:
    loaded = _modules_after("import fastware")
    assert not {m for m in loaded if m.split(".")[0] in HEAVY}


def test_first_attribute_access_imports_only_what_it_needs() -> None:
    loaded = _modules_after("import fastware\nfastware.Router")
    assert "fastware_core.routing" in loaded
    assert not {m for m in loaded if m.split(".")[0] in HEAVY[:4]}


def test_public_names_resolve_to_core_objects() -> None:
    from fastware_core import JSONResponse, Router
    from fastware_di import DependencyResolver

    assert fastware.Router is Router
    assert fastware.DependencyResolver is DependencyResolver
    assert fastware.JSONResponse is JSONResponse


def test_from_import_works_like_0_6_3() -> None:
    from fastware import JSONResponse, Router, create_app

    router = Router()

    @router.get("/")
    async def index(request: object) -> JSONResponse:
        return JSONResponse({"ok": True})

    with fastware.TestClient(create_app(router)) as client:
        assert client.get("/").json() == {"ok": True}


@pytest.mark.parametrize("name", fastware.__all__)
def test_every_exported_name_resolves(name: str) -> None:
    assert getattr(fastware, name) is not None


def test_all_is_a_sorted_tuple() -> None:
    assert isinstance(fastware.__all__, tuple)
    assert list(fastware.__all__) == sorted(fastware.__all__)


def test_unknown_attribute_raises_attribute_error() -> None:
    with pytest.raises(AttributeError, match="module 'fastware' has no attribute 'nope'"):
        _ = fastware.nope


def test_version_comes_from_metadata() -> None:
    assert fastware.__version__ == "0.7.0.dev0"


@pytest.mark.parametrize("name", COMPAT_MODULES)
def test_compatibility_submodules_import(name: str) -> None:
    module = importlib.import_module(f"fastware.{name}")
    assert module.__all__
    for exported in module.__all__:
        assert getattr(module, exported) is not None


@pytest.mark.parametrize("name", COMPAT_MODULES)
def test_each_submodule_imports_alone_in_a_fresh_interpreter(name: str) -> None:
    loaded = _modules_after(f"import fastware.{name}")
    assert f"fastware.{name}" in loaded
    assert not {m for m in loaded if m.split(".")[0] in EXTRAS}


@pytest.mark.parametrize("name", REFERENCE_NAMES)
def test_every_name_of_0_6_3_imports_from_fastware(name: str) -> None:
    assert name in fastware.__all__
    namespace: dict[str, object] = {}
    exec(f"from fastware import {name}", namespace)
    assert namespace[name] is getattr(fastware, name)


def test_server_markers_stay_off_the_top_level() -> None:
    import fastware.server

    for name in ("write_marker", "list_markers", "remove_marker"):
        assert name in fastware.server.__all__
        assert name not in fastware.__all__
        with pytest.raises(AttributeError):
            getattr(fastware, name)


def test_types_all_is_exactly_the_asgi_aliases() -> None:
    import fastware.types

    assert set(fastware.types.__all__) == {"Scope", "Receive", "Send"}


def test_parsed_segment_lives_in_routing_not_top_level() -> None:
    import fastware.routing

    assert fastware.routing.ParsedSegment is not None
    assert "ParsedSegment" not in fastware.__all__


def test_a_missing_sibling_is_a_missing_package_error_naming_the_distribution() -> None:
    script = (
        "import sys\n"
        "sys.modules['fastware_sse'] = None  # as if fastware-sse were not installed\n"
        "import fastware\n"
        "from fastware_core import FastwareError, MissingPackageError\n"
        "try:\n"
        "    fastware.Broadcaster\n"
        "except MissingPackageError as exc:\n"
        "    assert isinstance(exc, ImportError) and isinstance(exc, FastwareError)\n"
        "    print(exc.distribution, '|', exc)\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", script], check=True, capture_output=True, text=True
    ).stdout.strip()
    assert out == (
        "fastware-sse | fastware.Broadcaster needs the fastware-sse package, which is not "
        "installed: pip install fastware-sse"
    )
