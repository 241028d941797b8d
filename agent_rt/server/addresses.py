"""Which URLs reach a server bound to a host: ``0.0.0.0`` is where it listens, not where to connect."""

from __future__ import annotations

import ipaddress
import socket

_WILDCARDS = {"": "127.0.0.1", "0.0.0.0": "127.0.0.1", "::": "::1"}


def url_host(host: str) -> str:
    """``host`` as it goes into a URL one can connect to: wildcards become loopback, IPv6 gets brackets."""
    host = _WILDCARDS.get(host, host)
    return f"[{host}]" if ":" in host and not host.startswith("[") else host


def is_loopback(host: str) -> bool:
    """True for names and addresses that only this machine can reach (``localhost``, 127.x, ::1)."""
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def _local_addresses() -> list[str]:
    """This machine's outward IPv4 address, if it has one (no DNS lookup, no packet sent)."""
    probe = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    try:
        probe.connect(("192.0.2.1", 9))  # TEST-NET-1: a UDP "connect" only picks the route
        address = str(probe.getsockname()[0])
    except OSError:
        return []
    finally:
        probe.close()
    return [] if ipaddress.ip_address(address).is_loopback or address == "0.0.0.0" else [address]


def connectable_urls(host: str, port: int, path: str = "/v1/realtime") -> list[str]:
    """WebSocket URLs a client can use; the first is the one to try on this machine."""
    urls = [f"ws://{url_host(host)}:{port}{path}"]
    if host in ("", "0.0.0.0", "::"):
        urls.extend(f"ws://{address}:{port}{path}" for address in _local_addresses())
    return urls
