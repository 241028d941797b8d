"""Masked client text frames for the relay's upstream leg, written without a generic serializer.

Every frame a client sends is masked with 4 fresh random bytes (RFC 6455 5.3). websockets builds
each frame through its general serializer and draws each mask with its own ``getrandom`` call;
for the relay's one kind of frame (a whole, uncompressed text message, 50 a second per session
at real-time audio) this module writes the header itself and takes masks from a buffer filled by
``os.urandom`` (the same source; no byte is used twice). The masking itself stays websockets' C
``apply_mask``.
"""

from __future__ import annotations

import os
import struct

try:
    from websockets.speedups import apply_mask
except ImportError:  # websockets built without its C extension
    from websockets.utils import apply_mask

_FIN_TEXT = 0x81
_MASKED = 0x80
_BUFFER = 4096  # 1,024 masks per refill


class MaskSource:
    """Masks of 4 bytes from a buffer of ``os.urandom``, each byte used once."""

    def __init__(self) -> None:
        self._buffer = b""
        self._offset = 0

    def take(self) -> bytes:
        offset = self._offset
        if offset + 4 > len(self._buffer):
            self._buffer = os.urandom(_BUFFER)
            offset = 0
        self._offset = offset + 4
        return self._buffer[offset : offset + 4]


def masked_text_frame(data: bytes, mask: bytes) -> bytes:
    """One final text frame carrying ``data`` (UTF-8), masked with ``mask``, as a client sends it."""
    length = len(data)
    if length < 126:
        head = struct.pack("!BB", _FIN_TEXT, _MASKED | length)
    elif length < 65536:
        head = struct.pack("!BBH", _FIN_TEXT, _MASKED | 126, length)
    else:
        head = struct.pack("!BBQ", _FIN_TEXT, _MASKED | 127, length)
    return head + mask + apply_mask(data, mask)
