from __future__ import annotations

import asyncio
import logging
from pathlib import Path
from typing import Any

import pytest

from fastware_core import Router, create_app
from fastware_server.worker import (
    loader_for,
    prepare_app,
    read_report,
    watch_asgi_lifespan,
)


def spec(tmp_path: Path, interface: str, grace: float = 10.0) -> dict[str, Any]:
    return {"target": None, "interface": interface, "report": str(tmp_path / "r"), "grace": grace}


def test_rsgi_wrapper_hands_granian_the_apps_own_door(tmp_path: Path) -> None:
    app = create_app(Router())
    served = prepare_app(app, spec(tmp_path, "rsgi"))
    assert served.__rsgi__ == app.__rsgi__  # no extra frame per request
    loop = asyncio.new_event_loop()
    try:
        served.__rsgi_init__(loop)
        served.__rsgi_del__(loop)
    finally:
        loop.close()
    assert read_report(spec(tmp_path, "rsgi")["report"]) is None


def test_a_failing_rsgi_startup_is_reported_and_ends_the_worker(tmp_path: Path) -> None:
    class Failing:
        async def __rsgi__(self, scope: Any, protocol: Any) -> None:
            pass

        def __rsgi_init__(self, loop: Any) -> None:
            raise RuntimeError("no database")

    settings = spec(tmp_path, "rsgi")
    served = prepare_app(Failing(), settings)
    with pytest.raises(SystemExit):
        served.__rsgi_init__(None)
    assert read_report(settings["report"]) == (
        "lifespan startup failed: RuntimeError: no database"
        f" ({__file__}, line {Failing.__rsgi_init__.__code__.co_firstlineno + 1})"
    )


def test_asgi_lifespan_failure_message_is_copied_from_granians_log(tmp_path: Path) -> None:
    settings = spec(tmp_path, "asgi")
    watch_asgi_lifespan(settings["report"])
    granian = logging.getLogger("_granian")
    granian.error("the database is unreachable")
    granian.error("ASGI lifespan startup failed")
    assert read_report(settings["report"]) == (
        "lifespan startup failed: the database is unreachable"
    )


def test_stream_grace_fits_in_the_server_grace(tmp_path: Path) -> None:
    app = create_app(Router(), stream_shutdown_grace=5.0)
    prepare_app(app, spec(tmp_path, "rsgi", grace=4.0))
    assert app.config.stream_shutdown_grace == 2.0
    prepare_app(app, spec(tmp_path, "rsgi", grace=30.0))
    assert app.config.stream_shutdown_grace == 2.0  # never raised


def test_spawned_workers_need_an_importable_app(tmp_path: Path) -> None:
    app = create_app(Router())
    assert callable(loader_for(app, spec(tmp_path, "rsgi"), "fork"))
    with pytest.raises(ValueError, match="cannot be imported"):
        loader_for(app, spec(tmp_path, "rsgi"), "spawn")
