"""Headers, QueryParams, State, URL and Address."""

from __future__ import annotations

import pytest

from fastware_core import URL, Address, Headers, QueryParams, State


def test_headers_are_case_insensitive() -> None:
    headers = Headers([("Content-Type", "application/json"), ("X-A", "1")])

    assert headers["content-type"] == "application/json"
    assert headers["CONTENT-TYPE"] == "application/json"
    assert headers.get("x-a") == "1"
    assert "x-A" in headers
    assert "missing" not in headers
    not_a_name: object = 42
    assert not_a_name not in headers
    with pytest.raises(KeyError):
        headers["missing"]


def test_headers_keep_every_value_of_a_repeated_name() -> None:
    headers = Headers([("Set-Cookie", "a=1"), ("X-B", "2"), ("set-cookie", "b=2")])

    assert headers["set-cookie"] == "a=1"
    assert headers.getlist("SET-COOKIE") == ["a=1", "b=2"]
    assert headers.get_all("set-cookie") == ["a=1", "b=2"]
    assert headers.getlist("nothing") == []
    assert headers.multi_items() == [("set-cookie", "a=1"), ("x-b", "2"), ("set-cookie", "b=2")]
    assert list(headers) == ["set-cookie", "x-b"]
    assert len(headers) == 2


def test_headers_from_a_mapping_and_equality() -> None:
    headers = Headers({"X-A": "1", "X-B": "2"})

    assert headers == {"x-a": "1", "X-B": "2"}
    assert headers == Headers([("x-b", "2"), ("x-a", "1")])
    assert headers != Headers([("x-a", "1")])
    assert dict(headers) == {"x-a": "1", "x-b": "2"}


def test_query_params_are_a_dict_of_first_values_with_getlist() -> None:
    params = QueryParams([("tag", "a"), ("page", "2"), ("tag", "b"), ("empty", "")])

    assert params == {"tag": "a", "page": "2", "empty": ""}
    assert params["tag"] == "a"
    assert params.getlist("tag") == ["a", "b"]
    assert params.getlist("nothing") == []
    assert params.multi_items() == [("tag", "a"), ("page", "2"), ("tag", "b"), ("empty", "")]
    assert isinstance(params, dict)


def test_state_gives_attribute_and_item_access_over_one_dict() -> None:
    data: dict[str, object] = {"db": "conn"}
    state = State(data)

    assert state.db == "conn"
    assert state["db"] == "conn"
    assert state.get("db") == "conn"
    assert state.get("missing", "dflt") == "dflt"
    assert "db" in state
    state.user = "ann"
    state["role"] = "admin"
    assert data == {"db": "conn", "user": "ann", "role": "admin"}
    assert state.to_dict() is data
    assert sorted(state) == ["db", "role", "user"]
    assert len(state) == 3


def test_state_missing_attribute_and_item() -> None:
    state = State()

    with pytest.raises(AttributeError, match="State has no attribute 'missing'"):
        _ = state.missing
    with pytest.raises(KeyError):
        state["missing"]
    with pytest.raises(AttributeError, match="State has no attribute"):
        del state.missing


def test_state_deletion() -> None:
    state = State({"a": 1, "b": 2})

    del state.a
    del state["b"]
    assert len(state) == 0


def test_url_exposes_its_parts() -> None:
    url = URL("https://Example.com:8443/items/a%20b?page=2&sort=name#top")

    assert url == "https://Example.com:8443/items/a%20b?page=2&sort=name#top"
    assert isinstance(url, str)
    assert url.scheme == "https"
    assert url.netloc == "Example.com:8443"
    assert url.hostname == "example.com"
    assert url.port == 8443
    assert url.path == "/items/a%20b"
    assert url.query == "page=2&sort=name"


def test_url_without_port_or_query() -> None:
    url = URL("http://test/")

    assert url.port is None
    assert url.query == ""
    assert url.path == "/"


def test_address_is_a_host_port_pair() -> None:
    address = Address("10.0.0.1", 5000)

    assert address == ("10.0.0.1", 5000)
    assert (address.host, address.port) == ("10.0.0.1", 5000)
