"""Typed handlers, the OpenAPI document and the docs page, served by a real Granian through
both doors; the docs page is rendered by headless Chromium (offline: every asset comes from
the app)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from browser.cdp import Chromium
from openapi_spec_validator import validate
from support.granian import GranianProcess
from websockets.sync.client import connect

INTERFACES = ("rsgi", "asgi")


@pytest.fixture(scope="module", params=INTERFACES)
def server_url(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[str]:
    interface: str = request.param
    process = GranianProcess("fw_typed_app:app", interface, tmp_path_factory.mktemp(interface))
    process.start()
    try:
        process.wait_ready()
        yield process.url
    finally:
        process.stop()


def test_a_typed_route_reads_path_query_body_and_dependency(server_url: str) -> None:
    with httpx.Client(base_url=server_url) as client:
        created = client.post(
            "/shops/7/items?limit=5&sort=price",
            json={"name": "cup", "price": 2.5, "tags": ["a"]},
        )
        assert created.status_code == 201
        assert created.json() == {
            "shop_id": 7,
            "name": "cup",
            "price": 2.5,
            "tags": ["a"],
            "limit": 5,
            "sort": "price/EUR",
        }
        shop = client.get("/shops/3", headers={"x-client": "probe"})
        assert shop.json() == {"shop": 3, "client": "probe", "path": "/shops/3"}
        closed = client.delete("/shops/3")
        assert closed.status_code == 204
        assert closed.content == b""


def test_bad_input_is_a_422_listing_each_problem(server_url: str) -> None:
    with httpx.Client(base_url=server_url) as client:
        invalid = client.post("/shops/7/items?limit=0", json={"name": "x", "price": -1})
        malformed = client.post(
            "/shops/7/items", content=b'{"name"', headers={"content-type": "application/json"}
        )
        not_json = client.post(
            "/shops/7/items", content=b"name=x", headers={"content-type": "text/plain"}
        )
    assert invalid.status_code == 422
    assert [p["loc"] for p in invalid.json()["detail"]] == [
        ["body", "price"],
        ["query", "limit"],
    ]
    assert invalid.json()["detail"][0]["msg"] == "Expected `float` > 0.0"
    assert malformed.status_code == 400
    assert not_json.status_code == 415


def test_a_typed_websocket_route(server_url: str) -> None:
    url = server_url.replace("http://", "ws://") + "/ws/shops/4?since=9"
    with connect(url) as socket:
        assert socket.recv(timeout=10) == '{"shop":4,"since":9}'


def test_the_document_is_valid_openapi_3_1(server_url: str) -> None:
    document = httpx.get(f"{server_url}/openapi.json").json()
    validate(document)
    assert document["info"] == {"title": "Shop API", "version": "1.2.3"}
    operation = document["paths"]["/shops/{shop_id}/items"]["post"]
    assert [p["name"] for p in operation["parameters"]] == ["shop_id", "limit", "sort"]
    assert operation["requestBody"]["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/NewItem"
    }


def test_the_docs_page_renders_the_operations_in_chromium(server_url: str, tmp_path: Path) -> None:
    with Chromium(tmp_path / "chromium") as browser:
        page = browser.new_page()
        page.navigate(f"{server_url}/docs")
        count = page.wait_for(
            "document.querySelectorAll('.opblock').length >= 3 && "
            "document.querySelectorAll('.opblock').length",
            timeout=30,
        )
        assert count == 3
        operations = page.evaluate(
            "[...document.querySelectorAll('.opblock')].map(e => "
            "e.querySelector('.opblock-summary-method').textContent + ' ' + "
            "e.querySelector('[data-path]').getAttribute('data-path'))"
        )
        assert sorted(operations) == [
            "DELETE /shops/{shop_id}",
            "GET /shops/{shop_id}",
            "POST /shops/{shop_id}/items",
        ]
        title = page.evaluate("document.querySelector('.info .title').textContent")
        assert "Shop API" in title
        assert page.evaluate("document.querySelectorAll('.opblock-deprecated').length") == 1
        # every script and stylesheet came from the app itself
        sources = page.evaluate(
            "[...document.scripts].map(s => s.src).concat("
            "[...document.querySelectorAll('link[rel=stylesheet]')].map(l => l.href))"
        )
        assert sources
        assert all(src.startswith(server_url) for src in sources), sources
