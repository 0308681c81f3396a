"""0.6.3's tests ran on an httpx client: the test clients take httpx's objects (auth flows,
timeouts) and raise httpx's status error, with real httpx."""

from __future__ import annotations

import asyncio
import base64
from collections.abc import Generator
from typing import Any

import httpx
import pytest

from fastware import Request, Router, TestClient, create_app
from fastware_core import JSONResponse
from fastware_core.testing import AsyncTestClient


def guarded_app() -> Any:
    router = Router()

    @router.get("/who")
    async def who(request: Request) -> dict[str, Any]:
        return {"authorization": request.header("authorization")}

    @router.get("/digest")
    async def digest(request: Request) -> Any:
        sent = request.header("authorization") or ""
        if not sent.startswith("Digest "):
            challenge = 'Digest realm="test", nonce="abc123", qop="auth", algorithm=MD5'
            return JSONResponse({"detail": "log in"}, 401, {"WWW-Authenticate": challenge})
        fields = dict(
            part.strip().split("=", 1) for part in sent.removeprefix("Digest ").split(",")
        )
        return {"username": fields["username"].strip('"'), "nonce": fields["nonce"].strip('"')}

    @router.get("/slow")
    async def slow(request: Request) -> dict[str, Any]:
        await asyncio.sleep(30)
        return {}

    @router.get("/missing-thing")
    async def missing(request: Request) -> JSONResponse:
        return JSONResponse({"detail": "no"}, 404)

    return create_app(router)


class Bearer(httpx.Auth):
    """A custom auth, as test suites write them."""

    def __init__(self, token: str) -> None:
        self.token = token

    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        request.headers["Authorization"] = f"Bearer {self.token}"
        yield request


def add_key(request: httpx.Request) -> httpx.Request:
    request.headers["Authorization"] = "Key k1"
    return request


def test_httpx_auth_objects_and_functions_run_their_flows() -> None:
    with TestClient(guarded_app()) as client:
        basic = client.get("/who", auth=httpx.BasicAuth("user", "pw")).json()
        assert basic == {"authorization": "Basic " + base64.b64encode(b"user:pw").decode()}
        assert client.get("/who", auth=Bearer("t0k")).json() == {"authorization": "Bearer t0k"}
        assert client.get("/who", auth=add_key).json() == {"authorization": "Key k1"}
        replaced = client.get("/who", auth=Bearer("t1"), headers={"Authorization": "old"})
        assert replaced.json() == {"authorization": "Bearer t1"}


@pytest.mark.anyio
async def test_a_digest_flow_answers_the_challenge() -> None:
    async with AsyncTestClient(guarded_app()) as client:
        response = await client.get("/digest", auth=httpx.DigestAuth("ada", "secret"))
    assert response.status_code == 200
    assert response.json() == {"username": "ada", "nonce": "abc123"}


def test_raise_for_status_raises_httpx_status_error() -> None:
    with TestClient(guarded_app()) as client:
        response = client.get("/missing-thing")
    with pytest.raises(httpx.HTTPStatusError) as raised:
        response.raise_for_status()
    assert isinstance(raised.value, RuntimeError)
    assert raised.value.response.status_code == 404
    assert raised.value.response.json() == {"detail": "no"}
    assert raised.value.request.url == "http://test/missing-thing"
    assert (
        str(raised.value) == "Client error '404 Not Found' for GET url 'http://test/missing-thing'"
    )


def test_an_httpx_timeout_bounds_the_exchange() -> None:
    with TestClient(guarded_app()) as client:
        with pytest.raises(TimeoutError):
            client.get("/slow", timeout=httpx.Timeout(0.2))
        assert client.get("/who", timeout=httpx.Timeout(None)).status_code == 200


@pytest.mark.parametrize(
    "url",
    [
        "http://test/missing-thing",
        "http://Test.Example:8080/a%20b/c?x=1&x=2&y=%C3%A9",
        "https://secure.test:443/p?empty=&flag",
        "http://test:80/",
        "http://test",
    ],
)
def test_response_urls_read_as_httpx_urls_read(url: str) -> None:
    with TestClient(guarded_app()) as client:
        mine = client.get(url).url
    theirs = httpx.URL(url)
    for name in ("scheme", "host", "port", "netloc", "path", "query", "raw_path", "fragment"):
        assert getattr(mine, name) == getattr(theirs, name), name
    assert mine.params.multi_items() == list(theirs.params.multi_items())
    assert theirs == mine  # httpx.URL compares equal to the string


def test_the_status_error_carries_the_request_sent() -> None:
    with TestClient(guarded_app()) as client:
        response = client.post("/missing-thing", json={"a": 1}, headers={"X-Trace": "t"})
    with pytest.raises(httpx.HTTPStatusError) as raised:
        response.raise_for_status()
    request = raised.value.request
    assert (request.method, request.content) == ("POST", b'{"a":1}')
    assert request.headers["x-trace"] == "t"
    assert request.headers["content-type"] == "application/json"
    assert response.request.headers.multi_items() == list(request.headers.multi_items())
