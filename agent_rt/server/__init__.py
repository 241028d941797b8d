"""A local server that speaks the OpenAI Realtime protocol (GA and beta), for offline work.

The core is :class:`RealtimeSession`, a sans-I/O state machine (client events in, server events
out) with server VAD on the real PCM, truncation, cancellation and barge-in; replies come from a
deterministic :class:`Scenario`. :class:`LocalRealtimeServer` / :func:`serve_realtime` put it
behind a WebSocket listener (asyncio or trio) with optional :class:`Faults`.
"""

from __future__ import annotations

from .config import Dialect, SessionConfig
from .errors import ClientEventError
from .listener import (
    ConnectionInfo,
    Faults,
    LocalRealtimeServer,
    RealtimeServerApp,
    ServerCounters,
    serve_realtime,
)
from .responder import CallOutput, ContextItem, Responder, ResponseRequest, TextOutput
from .scenario import Scenario, ScriptedResponder, render
from .session import RealtimeSession
from .synth import MS_PER_CHAR, synthesize
from .vad import EnergyVad, threshold_to_rms

__all__ = [
    "MS_PER_CHAR",
    "CallOutput",
    "ClientEventError",
    "ConnectionInfo",
    "ContextItem",
    "Dialect",
    "EnergyVad",
    "Faults",
    "LocalRealtimeServer",
    "RealtimeServerApp",
    "RealtimeSession",
    "Responder",
    "ResponseRequest",
    "Scenario",
    "ScriptedResponder",
    "ServerCounters",
    "SessionConfig",
    "TextOutput",
    "render",
    "serve_realtime",
    "synthesize",
    "threshold_to_rms",
]
