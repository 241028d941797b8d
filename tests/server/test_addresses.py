"""URLs a client can connect to, whatever host the server listens on."""

from __future__ import annotations

import pytest

from agent_rt.server import LocalRealtimeServer
from agent_rt.server.addresses import connectable_urls, is_loopback, url_host


@pytest.mark.parametrize(
    ("host", "expected"),
    [
        ("0.0.0.0", "127.0.0.1"),
        ("", "127.0.0.1"),
        ("::", "[::1]"),
        ("::1", "[::1]"),
        ("10.1.2.3", "10.1.2.3"),
    ],
)
def test_url_host_never_names_a_wildcard(host: str, expected: str) -> None:
    assert url_host(host) == expected


@pytest.mark.parametrize(
    ("host", "loopback"),
    [("127.0.0.1", True), ("localhost", True), ("::1", True), ("0.0.0.0", False), ("192.168.1.5", False)],
)
def test_is_loopback(host: str, loopback: bool) -> None:
    assert is_loopback(host) is loopback


def test_connectable_urls_start_with_loopback_and_never_show_the_wildcard() -> None:
    urls = connectable_urls("0.0.0.0", 8765)
    assert urls[0] == "ws://127.0.0.1:8765/v1/realtime"
    assert all("0.0.0.0" not in url for url in urls)
    assert connectable_urls("127.0.0.1", 1) == ["ws://127.0.0.1:1/v1/realtime"]


def test_a_server_on_all_interfaces_gives_a_loopback_url() -> None:
    server = LocalRealtimeServer(host="0.0.0.0", port=8765)
    assert server.url == "ws://127.0.0.1:8765/v1/realtime"
    assert server.http_url == "http://127.0.0.1:8765/v1"
