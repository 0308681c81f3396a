from __future__ import annotations

from typing import Any

import pytest

from fastware_server import ServerConfig
from fastware_server.config import env_prefix, merge_config, resolve_address


@pytest.mark.parametrize(
    ("name", "prefix"),
    [("FASTWARE", "FASTWARE"), ("my-app", "MY_APP"), ("shop.api v2", "SHOP_API_V2"),
     ("2fa", "_2FA"), ("--", "FASTWARE")],
)  # fmt: skip
def test_env_prefix_is_a_valid_variable_name(name: str, prefix: str) -> None:
    assert env_prefix(name) == prefix


def test_address_defaults(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("FASTWARE_HOST", raising=False)
    monkeypatch.delenv("FASTWARE_PORT", raising=False)
    assert resolve_address(None, None) == ("127.0.0.1", 8000)


def test_address_precedence(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MY_APP_HOST", "0.0.0.0")
    monkeypatch.setenv("MY_APP_PORT", "9001")
    assert resolve_address(None, None, "my-app") == ("0.0.0.0", 9001)
    assert resolve_address("::1", 7000, "my-app") == ("::1", 7000)
    assert resolve_address(None, 0, "my-app") == ("0.0.0.0", 0)


def test_bad_ports(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("APP_PORT", "eighty")
    with pytest.raises(ValueError, match="APP_PORT must be a port number"):
        resolve_address(None, None, "app")
    with pytest.raises(ValueError, match="65535"):
        resolve_address(None, 70000, "app")


def test_merge_config_checks_names_and_values() -> None:
    merged = merge_config(ServerConfig(threads=2), {"grace": 3.0})
    assert (merged.threads, merged.grace) == (2, 3.0)
    with pytest.raises(TypeError, match="unexpected keyword arguments: nope"):
        merge_config(None, {"nope": 1})
    cases: list[tuple[dict[str, Any], str]] = [
        ({"interface": "wsgi"}, "interface must be one of"),
        ({"workers_lifetime": 30}, "at least 60 seconds"),
        ({"ssl_cert": "cert.pem"}, "ssl_cert and ssl_key go together"),
        ({"ssl_cert": "missing.pem", "ssl_key": "missing.pem"}, "no such file"),
        ({"grace": -1}, "grace must be 0 or more"),
        ({"threads": 0}, "threads must be positive"),
        ({"backpressure": 0}, "backpressure must be positive"),
    ]
    for bad, message in cases:
        with pytest.raises(ValueError, match=message):
            merge_config(None, bad)


def test_config_survives_json() -> None:
    config = ServerConfig(http="2", uds="/tmp/x.sock", grace=1.5, backpressure=20_000)
    data = config.to_json()
    assert data["uds"] == "/tmp/x.sock"
    assert ServerConfig.from_json(data) == config
