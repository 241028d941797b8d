"""Identifiers in the service's shapes (``event_…``, ``item_…``, ``resp_…``, ``call_…``, ``sess_…``).

A seed makes a whole session reproducible (ids and ``obfuscation`` padding included), which
keeps golden-output tests possible; without one the ids are random like the real ones.
"""

from __future__ import annotations

import random
import string

_ALPHABET = string.ascii_letters + string.digits


class IdFactory:
    """Makes prefixed random ids from one seeded generator."""

    def __init__(self, seed: int | None = None) -> None:
        self._rng = random.Random(seed)

    def token(self, length: int) -> str:
        return "".join(self._rng.choice(_ALPHABET) for _ in range(length))

    def event(self) -> str:
        return "event_" + self.token(21)

    def item(self) -> str:
        return "item_" + self.token(21)

    def response(self) -> str:
        return "resp_" + self.token(21)

    def call(self) -> str:
        return "call_" + self.token(16)

    def session(self) -> str:
        return "sess_" + self.token(21)

    def conversation(self) -> str:
        return "conv_" + self.token(21)

    def obfuscation(self) -> str:
        """Random padding like the ``obfuscation`` field of GA delta events."""
        return self.token(self._rng.randint(4, 16))
