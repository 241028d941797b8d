"""The relay's uvicorn server: it says when it listens once the app's startup has succeeded."""

from __future__ import annotations

import socket
from collections.abc import Callable

import uvicorn


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
