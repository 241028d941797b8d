"""agent_rt: an async Python client and agent framework for the OpenAI Realtime API.

The three primitives of the JavaScript reference client, in async Python on anyio (asyncio and
trio): :class:`RealtimeAPI` (the socket), :class:`RealtimeConversation` (the item cache) and
:class:`RealtimeClient` (the primary abstraction). Speaks GA (default) and beta.
"""

from __future__ import annotations

from .api import RealtimeAPI
from .client import RealtimeClient
from .client_secrets import ClientSecret, ClientSecretError, create_client_secret
from .errors import (
    ConfigurationError,
    ConnectionClosedError,
    ConversationError,
    HandshakeError,
    NotConnectedError,
    ProtocolError,
    RealtimeError,
    ServerError,
)
from .hookspecs import hookimpl
from .plugins import LoadedPlugins, PluginConflictError, PluginError, load_plugins
from .protocol.conversation import RealtimeConversation
from .tools import (
    FunctionTool,
    Tool,
    ToolDefinitionError,
    ToolRegistry,
    ToolResult,
    UnknownToolError,
    function_tool,
)

__version__ = "0.1.0"

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
