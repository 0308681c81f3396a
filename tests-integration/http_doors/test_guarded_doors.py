"""TrustedHost, wildcard CORS and security headers run natively (RSGI) and as ASGI."""

from __future__ import annotations

import httpx
import pytest

from .conftest import INTERFACES, StartGranian

APP = "fw_guarded_app:app"


@pytest.mark.parametrize("interface", INTERFACES)
def test_hosts_cors_and_security_headers(start_granian: StartGranian, interface: str) -> None:
    process = start_granian(APP, interface)
    process.wait_ready()
    with httpx.Client(base_url=process.url, timeout=10.0) as http:
        ok = http.get("/hello", headers={"Origin": "https://anywhere.test"})
        assert ok.status_code == 200, process.logs()
        assert ok.json()["request_id"] == ok.headers["x-request-id"]
        assert ok.headers["access-control-allow-origin"] == "*"
        assert ok.headers["x-content-type-options"] == "nosniff"
        assert ok.headers["x-frame-options"] == "DENY"
        assert "strict-transport-security" not in ok.headers  # plain http: no HSTS
        sub = http.get("/hello", headers={"Host": "api.example.test:8443"})
        assert sub.status_code == 200
        for host in ("evil.test", "example.test"):  # the wildcard does not cover the apex
            refused = http.get("/hello", headers={"Host": host})
            assert refused.status_code == 400
            assert refused.json() == {"detail": "Invalid host header"}
            # TrustedHost is outermost: inner hooks (security headers) never saw this request
            assert "x-frame-options" not in refused.headers
            # ... but the app's own nosniff default is on every answer, refusals included
            assert refused.headers["x-content-type-options"] == "nosniff"
        # GZip is ASGI middleware: on the RSGI door it runs through the ASGI adapter
        zipped = http.get("/big", headers={"Accept-Encoding": "gzip"})
        assert zipped.headers["content-encoding"] == "gzip"
        assert "accept-encoding" in zipped.headers["vary"].lower()
        assert len(zipped.json()) == 200  # httpx decompresses
        assert zipped.headers["x-content-type-options"] == "nosniff"
        small = http.get("/hello", headers={"Accept-Encoding": "gzip"})
        assert "content-encoding" not in small.headers
