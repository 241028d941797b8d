"""agent_rt: an async Python client and agent framework for the OpenAI Realtime API.

The three primitives of the JavaScript reference client, in async Python on anyio (asyncio and
trio): :class:`RealtimeAPI` (the socket), :class:`RealtimeConversation` (the item cache) and
:class:`RealtimeClient` (the primary abstraction). Speaks GA (default) and beta.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from . import _name_clash
from .api import RealtimeAPI
from .client import RealtimeClient
from .errors import (
    ConfigurationError,
    ConnectionClosedError,
    ConversationError,
    HandshakeError,
    NotConnectedError,
    ProtocolError,
    RealtimeError,
    ReconnectHookError,
    ServerError,
)
from .protocol.conversation import RealtimeConversation
from .reconnect import ReconnectPolicy
from .tools import (
    FunctionTool,
    Tool,
    ToolDefinitionError,
    ToolRegistry,
    ToolResult,
    UnknownToolError,
    function_tool,
)

if TYPE_CHECKING:
    from .client_secrets import ClientSecret, ClientSecretError, create_client_secret
    from .hookspecs import hookimpl
    from .plugins import LoadedPlugins, PluginConflictError, PluginError, load_plugins

__version__ = "0.2.0"  # the one place the version is written (pyproject reads it)

_name_clash.warn_if_found()  # the unrelated `agent-rt` distribution's agent_rt.py (docs/install.md)

# Imported on first use, to keep ``import agent_rt`` fast (httpx; pluggy; entry-point scanning helpers).
_LAZY = {
    "ClientSecret": "client_secrets",
    "ClientSecretError": "client_secrets",
    "create_client_secret": "client_secrets",
    "LoadedPlugins": "plugins",
    "PluginConflictError": "plugins",
    "PluginError": "plugins",
    "load_plugins": "plugins",
    "hookimpl": "hookspecs",
}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'agent_rt' has no attribute {name!r}")
    value = getattr(importlib.import_module(f".{module}", __name__), name)
    globals()[name] = value
    return value


__all__ = [
    "ClientSecret",
    "ClientSecretError",
    "ConfigurationError",
    "ConnectionClosedError",
    "ConversationError",
    "FunctionTool",
    "HandshakeError",
    "LoadedPlugins",
    "NotConnectedError",
    "PluginConflictError",
    "PluginError",
    "ProtocolError",
    "RealtimeAPI",
    "RealtimeClient",
    "RealtimeConversation",
    "RealtimeError",
    "ReconnectHookError",
    "ReconnectPolicy",
    "ServerError",
    "Tool",
    "ToolDefinitionError",
    "ToolRegistry",
    "ToolResult",
    "UnknownToolError",
    "__version__",
    "create_client_secret",
    "function_tool",
    "hookimpl",
    "load_plugins",
]
