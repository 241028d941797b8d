"""Keep API keys and tokens out of logs, reprs and exception messages.

Anything that may end up in a log record goes through :func:`redact` first. It masks
``Bearer`` tokens, OpenAI-style keys (``sk-...``, ``ek_...``, ``rk_...``) and the browser
sub-protocol form ``openai-insecure-api-key.<key>``, plus any secret registered at runtime
(the exact key a client was constructed with, whatever its shape).
"""

from __future__ import annotations

import logging
import re
import threading

_PATTERNS = re.compile(
    r"(?P<bearer>(?i:bearer)\s+)[^\s\"',;]+"
    r"|(?P<sub>openai-insecure-api-key\.)[^\s\"',;]+"
    r"|\b(?:sk|ek|rk|sess_key)[-_][A-Za-z0-9_\-]{8,}"
)

_lock = threading.Lock()
_known: set[str] = set()
_known_re: re.Pattern[str] | None = None

MASK = "***"


def register_secret(secret: str | None) -> None:
    """Remember ``secret`` so that :func:`redact` masks it wherever it appears."""
    global _known_re
    if not secret or len(secret) < 4:
        return
    with _lock:
        if secret in _known:
            return
        _known.add(secret)
        alternatives = sorted(_known, key=len, reverse=True)
        _known_re = re.compile("|".join(re.escape(s) for s in alternatives))


def _mask(match: re.Match[str]) -> str:
    prefix = match.group("bearer") or match.group("sub")
    return f"{prefix}{MASK}" if prefix else MASK


def redact(text: str) -> str:
    """Return ``text`` with every known or recognisable secret replaced by ``***``."""
    known = _known_re
    if known is not None:
        text = known.sub(MASK, text)
    return _PATTERNS.sub(_mask, text)


class RedactingFilter(logging.Filter):
    """A logging filter that redacts a record's rendered message in place.

    Attached to loggers handed to third-party code (the websockets protocol logs request
    headers, ``Authorization`` included, at DEBUG level).
    """

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        cleaned = redact(message)
        if cleaned != message:
            record.msg = cleaned
            record.args = None
        if record.exc_info and not record.exc_text:  # a traceback quotes the exception's message
            record.exc_text = redact(logging.Formatter().formatException(record.exc_info))
        return True


def redacting_logger(name: str) -> logging.Logger:
    """Return the logger ``name`` with a :class:`RedactingFilter` attached (once)."""
    log = logging.getLogger(name)
    if not any(isinstance(f, RedactingFilter) for f in log.filters):
        log.addFilter(RedactingFilter())
    return log
