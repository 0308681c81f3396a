"""The framework's own middleware (request id, timing, CORS) through both doors.

On the RSGI door these run natively around the dispatcher; on the ASGI door as ASGI
middleware. The answers must be the same.
"""

from __future__ import annotations

import httpx

from .conftest import Server


def test_every_response_carries_a_request_id_that_handlers_see(client: httpx.Client) -> None:
    response = client.get("/middleware-view")
    request_id = response.headers["x-request-id"]
    assert len(request_id) == 32
    assert response.json()["request_id"] == request_id
    assert client.get("/middleware-view").headers["x-request-id"] != request_id


def test_a_sane_incoming_request_id_is_kept_and_a_hostile_one_replaced(
    client: httpx.Client,
) -> None:
    kept = client.get("/middleware-view", headers={"X-Request-Id": "abc-123.x"})
    assert kept.headers["x-request-id"] == "abc-123.x"
    replaced = client.get("/middleware-view", headers={"X-Request-Id": "a" * 500})
    assert len(replaced.headers["x-request-id"]) == 32


def test_timing_counts_requests(client: httpx.Client) -> None:
    first = client.get("/middleware-view").json()["count"]
    client.get("/does-not-exist")
    assert client.get("/middleware-view").json()["count"] >= first + 2


def test_cors_headers_for_an_allowed_origin_and_none_for_others(client: httpx.Client) -> None:
    allowed = client.get("/middleware-view", headers={"Origin": "http://allowed.example"})
    assert allowed.headers["access-control-allow-origin"] == "http://allowed.example"
    assert "origin" in allowed.headers["vary"].lower()
    other = client.get("/middleware-view", headers={"Origin": "http://evil.example"})
    assert "access-control-allow-origin" not in other.headers


def test_cors_preflight_is_answered_before_routing(server: Server, client: httpx.Client) -> None:
    preflight = client.options(
        "/middleware-view",
        headers={
            "Origin": "http://allowed.example",
            "Access-Control-Request-Method": "GET",
        },
    )
    assert preflight.status_code == 204
    assert preflight.headers["access-control-allow-origin"] == "http://allowed.example"
    assert preflight.headers["access-control-max-age"] == "3600"
    # CORS sits outside RequestID (the 0.6.3 order), so its answer comes before an id is made
    assert "x-request-id" not in preflight.headers
