"""``--debug`` event logging: events as JSON with audio and images elided and secrets redacted.

Only called when debugging is on; the forwarding path never parses frames for it otherwise.
"""

from __future__ import annotations

import json
from typing import Any

from .._secrets import redact

_ELIDED_KEYS = frozenset({"audio", "delta", "image_url", "data"})
_LONG = 160
_MAX_LOGGED = 2000


def _elide(value: Any, key: str | None = None) -> Any:
    if isinstance(value, dict):
        return {k: _elide(v, k) for k, v in value.items()}
    if isinstance(value, list):
        return [_elide(v, key) for v in value]
    if isinstance(value, str) and key in _ELIDED_KEYS and len(value) > _LONG:
        return f"<{len(value)} chars elided>"
    return value


def describe_frame(text: str) -> str:
    """One log-safe line for a frame."""
    try:
        event = json.loads(text)
    except ValueError:
        return redact(f"<not JSON, {len(text)} chars>")
    rendered = json.dumps(_elide(event), ensure_ascii=False)
    if len(rendered) > _MAX_LOGGED:
        rendered = rendered[:_MAX_LOGGED] + f"... ({len(rendered)} chars)"
    return redact(rendered)
