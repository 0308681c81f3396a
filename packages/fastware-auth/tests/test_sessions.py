"""Session cookies: 0.6.3 output by default, production options, validation."""

from __future__ import annotations

import pytest

from fastware_auth import (
    Auth,
    AuthConfigurationError,
    SessionCookies,
    clear_session_cookies,
    generate_csrf_token,
    set_session_cookies,
)

SECRET = "test-secret-0123456789-abcdefghijklmnop"


def test_0_6_3_output() -> None:
    session, csrf = set_session_cookies("tok.en.value", "csrf123")
    assert session == "session=tok.en.value; Path=/; SameSite=Lax; HttpOnly"
    assert csrf == "csrf_token=csrf123; Path=/; SameSite=Lax"
    cleared = clear_session_cookies()
    assert [c.split(";")[0] for c in cleared] == ["session=", "csrf_token="]
    assert all("Max-Age=0" in c for c in cleared)


def test_production_options() -> None:
    session, csrf = set_session_cookies(
        "t", "c", secure=True, max_age=3600, samesite="strict", host_prefix=True
    )
    assert session.startswith("__Host-session=t;")
    assert "Secure" in session
    assert "Max-Age=3600" in session
    assert "SameSite=Strict" in session
    assert csrf.startswith("__Host-csrf_token=c;")
    assert "HttpOnly" not in csrf
    domain = set_session_cookies("t", "c", domain="example.com", secure=True)
    assert "Domain=example.com" in domain[0]


@pytest.mark.parametrize(
    "options",
    [
        {"samesite": "none"},
        {"host_prefix": True},
        {"host_prefix": True, "secure": True, "domain": "example.com"},
        {"host_prefix": True, "secure": True, "path": "/app"},
        {"max_age": 0},
        {"samesite": "sideways"},
        {"session_name": "bad name"},
        {"domain": "a;b"},
    ],
)
def test_settings_browsers_would_refuse_fail_early(options: dict[str, object]) -> None:
    with pytest.raises(AuthConfigurationError):
        SessionCookies(**options)  # type: ignore[arg-type]


def test_values_that_would_inject_attributes_are_refused() -> None:
    with pytest.raises(ValueError, match="Invalid value"):
        set_session_cookies("tok; Domain=evil.com", "c")


def test_csrf_tokens_are_random_and_url_safe() -> None:
    tokens = {generate_csrf_token() for _ in range(100)}
    assert len(tokens) == 100
    assert all(len(t) == 43 and t.replace("-", "").replace("_", "").isalnum() for t in tokens)


def test_auth_session_cookies_use_its_settings() -> None:
    auth = Auth(SECRET, cookies=SessionCookies(secure=True, host_prefix=True, max_age=60))
    session, _csrf = auth.session_cookies("t", "c")
    assert session.startswith("__Host-session=t")
    assert "Max-Age=60" in session
    assert all(c.startswith("__Host-") and "Max-Age=0" in c for c in auth.clear_session_cookies())
