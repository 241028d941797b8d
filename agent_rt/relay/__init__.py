"""A relay server: browsers and apps reach a Realtime API through it, with its auth, limits and tools.

Needs the ``relay`` extra (``pip install "agentrt[relay]"``: Starlette and uvicorn). See
docs/relay.md. The names below load on first use, so ``agent-rt``'s command line (which imports
:mod:`agent_rt.relay.cli`) works without the extra installed.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .app import RELAY_SCENARIO, Relay, create_relay_app
    from .auth import AuthRefused, AuthRequest, Identity
    from .limits import Limits
    from .policy import CLIENT_EVENT_TYPES
    from .usage import UsageLedger

_EXPORTS = {
    "CLIENT_EVENT_TYPES": ".policy",
    "RELAY_SCENARIO": ".app",
    "AuthRefused": ".auth",
    "AuthRequest": ".auth",
    "Identity": ".auth",
    "Limits": ".limits",
    "Relay": ".app",
    "UsageLedger": ".usage",
    "create_relay_app": ".app",
}

__all__ = [
    "CLIENT_EVENT_TYPES",
    "RELAY_SCENARIO",
    "AuthRefused",
    "AuthRequest",
    "Identity",
    "Limits",
    "Relay",
    "UsageLedger",
    "create_relay_app",
]


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'agent_rt.relay' has no attribute {name!r}")
    return getattr(importlib.import_module(module, __name__), name)
