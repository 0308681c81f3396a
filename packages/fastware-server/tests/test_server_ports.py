from __future__ import annotations

import os
import socket

import pytest

from fastware_server import PortInUseError, ensure_port_available
from fastware_server.exceptions import ServerError
from fastware_server.ports import bind_address, free_port, port_holders, port_is_free


def _ipv6() -> bool:
    try:
        with socket.socket(socket.AF_INET6) as sock:
            sock.bind(("::1", 0))
    except OSError:
        return False
    return True


def test_free_port_is_free() -> None:
    port = free_port()
    assert port_is_free("127.0.0.1", port)
    assert ensure_port_available("127.0.0.1", port) == port


def test_taken_port_names_the_holder() -> None:
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        port = holder.getsockname()[1]
        assert not port_is_free("127.0.0.1", port)
        assert os.getpid() in port_holders(port)
        with pytest.raises(PortInUseError) as caught:
            ensure_port_available("127.0.0.1", port)
    assert caught.value.holder == os.getpid()
    assert caught.value.port == port
    assert str(caught.value).startswith(f"port {port} on 127.0.0.1 is already in use by PID ")
    assert isinstance(caught.value, RuntimeError)


@pytest.mark.skipif(not _ipv6(), reason="no IPv6 loopback on this machine")
def test_ipv6_hosts_are_probed_over_ipv6() -> None:
    port = free_port("::1")
    assert port_is_free("::1", port)  # 0.6.3 probed with IPv4 and always said "in use"
    with socket.socket(socket.AF_INET6) as holder:
        holder.bind(("::1", port))
        holder.listen()
        assert not port_is_free("::1", port)
        assert not port_is_free("[::1]", port)


def test_names_resolve_to_addresses() -> None:
    assert bind_address("127.0.0.1") == "127.0.0.1"
    assert bind_address("[::1]") == "::1"
    assert bind_address("localhost") in ("127.0.0.1", "::1")
    with pytest.raises(ServerError, match="cannot resolve host"):
        bind_address("no-such-host.invalid")


def test_an_address_that_is_not_local_is_an_error_not_in_use() -> None:
    with pytest.raises(ServerError, match=r"cannot bind 192\.0\.2\.1:8000"):
        port_is_free("192.0.2.1", 8000)
