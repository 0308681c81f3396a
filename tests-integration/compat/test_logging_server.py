"""``fastware.logging`` under a real Granian: one JSON format from every logger of every
process, and each request's lines carrying its own request id."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import httpx
import msgspec
import pytest
from support.granian import FastwareServeProcess, GranianProcess


async def _requests(url: str, count: int) -> list[httpx.Response]:
    async with httpx.AsyncClient(base_url=url, timeout=10.0) as client:
        return await asyncio.gather(*(client.get(f"/work/{n}") for n in range(count)))


def _json_lines(text: str) -> list[dict[str, Any]]:
    lines = []
    for line in text.splitlines():
        try:
            lines.append(msgspec.json.decode(line))
        except msgspec.DecodeError:
            pytest.fail(f"a line that is not JSON: {line!r}\n--- all output ---\n{text}")
    return lines


@pytest.mark.parametrize("interface", ["rsgi", "asgi"])
def test_every_line_is_json_and_carries_its_requests_id(interface: str, tmp_path: Path) -> None:
    process = FastwareServeProcess("fw_logging_app:app", interface, tmp_path, workers=2)
    process.start()
    try:
        process.wait_ready()
        responses = asyncio.run(_requests(process.url, 40))
    finally:
        assert process.stop() == 0, process.logs()
    assert all(r.status_code == 200 for r in responses)
    # Granian's lines too went to the handler; stdout has the CLI's own startup block only
    # (its first line, then indented "name  value" rows)
    first, *rows = process.stdout_path.read_text().splitlines()
    assert first.startswith("fastware: serving fw_logging_app:app")
    assert rows
    assert all(row.startswith("  ") for row in rows), rows
    lines = _json_lines(process.stderr_path.read_text())

    granian = [line["event"] for line in lines if str(line.get("logger")).startswith("_granian")]
    assert any("Started worker-1" in event for event in granian), granian
    assert any("Started worker-2" in event for event in granian), granian
    assert len({r.json()["pid"] for r in responses}) >= 1

    by_id = {r.headers["x-request-id"]: r.json()["n"] for r in responses}
    assert len(by_id) == 40
    starts = {line["request_id"]: line["n"] for line in lines if line["event"] == "start"}
    ends = {
        line["request_id"]: int(line["event"].split()[1])
        for line in lines
        if line["event"].startswith("end ")
    }
    assert starts == by_id
    assert ends == by_id
    assert all(
        line["logger"] == "fastware.example" for line in lines if line["event"][:4] == "end "
    )
    # the access log: a line per request, with the id the response carried (the harness's
    # readiness checks asked for "/")
    access = [
        line
        for line in lines
        if line["logger"] == "fastware.access" and line["path"].startswith("/work/")
    ]
    assert {line["request_id"]: line["path"] for line in access} == {
        rid: f"/work/{n}" for rid, n in by_id.items()
    }
    assert all(line["status"] == 200 and line["level"] == "info" for line in access)
    assert all(f'"GET {line["path"]} HTTP/1.1" 200 ' in line["event"] for line in access)


def test_granian_cli_workers_print_json_once_the_app_is_imported(tmp_path: Path) -> None:
    """``python -m granian``: the main process never imports the app, the workers do."""
    process = GranianProcess("fw_logging_app:app", "rsgi", tmp_path)
    process.start()
    try:
        process.wait_ready()
        response = httpx.get(process.url + "/work/7", headers={"x-request-id": "cli-7"})
    finally:
        process.stop()
    assert response.headers["x-request-id"] == "cli-7"
    lines = _json_lines(process.stderr_path.read_text())
    assert {"start", "end 7"} <= {
        line["event"] for line in lines if line.get("request_id") == "cli-7"
    }
