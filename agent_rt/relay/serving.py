"""The relay's uvicorn server: it says when it listens once the app's startup has succeeded."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import Callable
from typing import Any

import uvicorn

#: Largest WebSocket message uvicorn accepts from a client: the service's 15 MiB event, and room for
#: the relay to answer an oversized one with its own close code (1009) instead of uvicorn's.
WS_MAX_SIZE = 16 * 2**20 + 65536


def relay_ws_protocol() -> type[asyncio.Protocol] | str:
    """The WebSocket protocol the relay runs under uvicorn: ours, else uvicorn's ``"auto"``.

    :class:`~agent_rt.relay.ws_protocol.RelayWebSocketProtocol` needs uvicorn's websockets-sansio
    protocol (uvicorn 0.35 and later) with the step it overrides.
    """
    try:
        from .ws_protocol import RelayWebSocketProtocol, fits_uvicorn
    except ImportError:
        return "auto"
    return RelayWebSocketProtocol if fits_uvicorn() else "auto"


class RelayServer(uvicorn.Server):
    """``uvicorn.Server`` calling ``on_started`` at uvicorn's startup-complete point.

    The lifespan (MCP servers, the embedded local server) has started and the sockets are being
    served: a command's "listening" line is then true, and a failed startup prints only its error.
    """

    def __init__(self, config: uvicorn.Config, on_started: Callable[[], None] | None = None) -> None:
        super().__init__(config)
        self.on_started = on_started

    async def startup(self, sockets: list[socket.socket] | None = None) -> None:
        await super().startup(sockets=sockets)
        if self.started and not self.should_exit and self.on_started is not None:
            self.on_started()


def uvicorn_options(graceful_seconds: int) -> dict[str, Any]:
    """What every uvicorn running the relay is given: one process here, or the workers' launcher."""
    return {
        "ws": relay_ws_protocol(),
        "ws_max_size": WS_MAX_SIZE,
        "access_log": False,
        "timeout_graceful_shutdown": graceful_seconds,
    }


def make_server(
    app: Any, *, graceful_seconds: int, on_started: Callable[[], None] | None = None
) -> RelayServer:
    """The uvicorn server for a relay app, as ``agent-rt relay`` and ``agent-rt console`` run it."""
    config = uvicorn.Config(app, log_level="warning", lifespan="on", **uvicorn_options(graceful_seconds))
    return RelayServer(config, on_started=on_started)
