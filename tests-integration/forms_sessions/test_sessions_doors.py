"""Session round trips through both doors of a real Granian: a signed cookie session, and
Redis-backed sessions shared by two workers, read by HTTP routes and WebSocket handlers."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest
from websockets.sync.client import connect

from .conftest import INTERFACES, RedisServer, StartGranian


def _cookie(response: httpx.Response) -> str:
    header = response.headers["set-cookie"]
    name_value = header.split(";", 1)[0]
    assert name_value.startswith("session=")
    return name_value.split("=", 1)[1]


def _over_websocket(url: str, cookie: str) -> dict[str, Any]:
    """What ``/session/ws`` sends to a handshake carrying this session cookie."""
    ws_url = url.replace("http://", "ws://", 1) + "/session/ws"
    with connect(ws_url, additional_headers={"cookie": f"session={cookie}"}, open_timeout=10) as ws:
        answer: dict[str, Any] = json.loads(ws.recv(timeout=10))
    return answer


def _jar(http: httpx.Client, cookie: str) -> dict[str, str]:
    """Send exactly this session cookie (the client's own jar is emptied first)."""
    http.cookies.clear()
    return {"cookie": f"session={cookie}"}


@pytest.mark.parametrize("interface", INTERFACES)
def test_a_cookie_session_round_trip(start_granian: StartGranian, interface: str) -> None:
    server = start_granian(interface)
    with httpx.Client(base_url=server.url, timeout=10) as http:
        first = http.post("/session", data={"user": "ada"})
        assert first.status_code == 200
        cookie = _cookie(first)
        assert "HttpOnly" in first.headers["set-cookie"]
        second = http.post("/session", data={"theme": "dark"}, headers=_jar(http, cookie))
        cookie = _cookie(second)
        shown = http.get("/session", headers=_jar(http, cookie)).json()["session"]
        assert shown == {"user": "ada", "theme": "dark", "count": 2}
        assert _over_websocket(server.url, cookie)["session"] == shown

        tampered = cookie[:-3] + ("AAA" if not cookie.endswith("AAA") else "BBB")
        response = http.get("/session", headers=_jar(http, tampered))
        assert response.status_code == 200
        assert response.json()["session"] == {}
        assert "Max-Age=0" in response.headers["set-cookie"]

        ended = http.delete("/session", headers=_jar(http, cookie))
        assert "Max-Age=0" in ended.headers["set-cookie"]


@pytest.mark.parametrize("interface", INTERFACES)
def test_redis_sessions_are_shared_by_two_workers(
    start_granian: StartGranian, redis_server: RedisServer, interface: str
) -> None:
    server = start_granian(interface, workers=2, env={"SESSION_REDIS_URL": redis_server.url})
    # A new connection per request, so that the kernel spreads them over both workers.
    limits = httpx.Limits(max_keepalive_connections=0)
    with httpx.Client(base_url=server.url, timeout=10, limits=limits) as http:
        cookie = _cookie(http.post("/session", data={"user": "ada"}))
        assert len(cookie) < 200  # only the signed id travels
        writers: set[int] = set()
        posts = 1
        while len(writers) < 2 and posts < 300:
            response = http.post("/session", data={"n": str(posts)}, headers=_jar(http, cookie))
            assert response.status_code == 200
            posts += 1
            writers.add(response.json()["pid"])
            assert response.json()["session"]["count"] == posts
        assert len(writers) == 2, "both workers should have served a request"
        readers: dict[int, dict[str, object]] = {}
        for _ in range(300):
            data = http.get("/session", headers=_jar(http, cookie)).json()
            readers[data["pid"]] = data["session"]
            if len(readers) == 2:
                break
        expected = {"user": "ada", "count": posts, "n": str(posts - 1)}
        assert list(readers.values()) == [expected] * 2
        # WebSocket handlers on both workers load it from Redis too.
        watchers: dict[int, dict[str, object]] = {}
        for _ in range(300):
            data = _over_websocket(server.url, cookie)
            watchers[data["pid"]] = data["session"]
            if len(watchers) == 2:
                break
        assert list(watchers.values()) == [expected] * 2

        http.delete("/session", headers=_jar(http, cookie))
        assert http.get("/session", headers=_jar(http, cookie)).json()["session"] == {}
