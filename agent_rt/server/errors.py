"""``error`` events of the local server, worded the way the real service words them.

Handlers raise :class:`ClientEventError`; the session turns it into one ``error`` event whose
``error.event_id`` echoes the client's ``event_id`` (the only way a client can correlate a
failure, protocol.md §3) and leaves its state unchanged. The message formats copy the ones seen
in real traffic ("Unknown parameter: 'session.x'.", "Invalid value: 'x'. Supported values are:
...", "Audio content of 9250ms is already shorter than 57340ms", ...), so client code that
matches on them can be tested offline.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from ..errors import ProtocolError

ServerEvent = dict[str, Any]


class ClientEventError(ProtocolError):
    """A client event the server refuses; becomes an ``error`` event, never a crash."""

    def __init__(
        self,
        code: str | None,
        message: str,
        *,
        param: str | None = None,
        error_type: str = "invalid_request_error",
    ) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.param = param
        self.error_type = error_type


def error_payload(exc: ClientEventError, client_event_id: str | None) -> dict[str, Any]:
    """The ``error`` object of an ``error`` event (without the envelope)."""
    return {
        "type": exc.error_type,
        "code": exc.code,
        "message": exc.message,
        "param": exc.param,
        "event_id": client_event_id,
    }


# -- message builders (OpenAI's wording) -----------------------------------------------------------


def _json_name(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int):
        return "an integer"
    if isinstance(value, float):
        return "a decimal"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "an array"
    if isinstance(value, dict):
        return "an object"
    return "an unknown type"


def _quote(value: Any) -> str:
    return f"'{value}'" if isinstance(value, str) else repr(value)


def _supported(values: Sequence[Any]) -> str:
    quoted = [_quote(v) for v in values]
    if len(quoted) <= 2:
        return " and ".join(quoted)
    return ", ".join(quoted[:-1]) + f", and {quoted[-1]}"


def unknown_parameter(param: str) -> ClientEventError:
    return ClientEventError("unknown_parameter", f"Unknown parameter: '{param}'.", param=param)


def missing_parameter(param: str) -> ClientEventError:
    return ClientEventError(
        "missing_required_parameter", f"Missing required parameter: '{param}'.", param=param
    )


def invalid_type(param: str, expected: str, value: Any) -> ClientEventError:
    return ClientEventError(
        "invalid_type",
        f"Invalid type for '{param}': expected {expected}, but got {_json_name(value)} instead.",
        param=param,
    )


def invalid_value(param: str, value: Any, supported: Sequence[Any] | None = None) -> ClientEventError:
    message = f"Invalid value: {_quote(value)}."
    if supported is not None:
        message += f" Supported values are: {_supported(supported)}."
    return ClientEventError("invalid_value", message, param=param)


def out_of_range(
    param: str, value: float, *, minimum: float | None, maximum: float | None
) -> ClientEventError:
    kind = "integer" if isinstance(value, int) else "decimal"
    if minimum is not None and value < minimum:
        return ClientEventError(
            f"{kind}_below_min_value",
            f"Invalid '{param}': {kind} below minimum value. "
            f"Expected a value >= {minimum}, but got {value} instead.",
            param=param,
        )
    return ClientEventError(
        f"{kind}_above_max_value",
        f"Invalid '{param}': {kind} above maximum value. "
        f"Expected a value <= {maximum}, but got {value} instead.",
        param=param,
    )


def invalid_json(detail: str) -> ClientEventError:
    return ClientEventError("invalid_json", f"Invalid JSON: the client event could not be parsed ({detail}).")


#: The service refuses a client event larger than this (15 MiB, the documented append limit).
MAX_CLIENT_EVENT_BYTES = 15 * 2**20


def event_too_large(size: int) -> ClientEventError:
    """The event is over the service's per-event cap; no record of the real wording, so ours is plain."""
    return ClientEventError(
        "event_too_large",
        f"The client event is {size} bytes; the maximum is {MAX_CLIENT_EVENT_BYTES} bytes (15 MiB). "
        "Split input audio into several input_audio_buffer.append events.",
    )


def missing_type() -> ClientEventError:
    return ClientEventError("invalid_event", "The 'type' field is missing.")


def unknown_event_type(event_type: Any, supported: Sequence[str]) -> ClientEventError:
    return invalid_value("type", event_type, supported)


def item_not_found(item_id: Any, param: str = "item_id") -> ClientEventError:
    return ClientEventError("item_not_found", f"Item with item_id not found: {item_id}", param=param)


def commit_empty(buffered_ms: float) -> ClientEventError:
    return ClientEventError(
        "input_audio_buffer_commit_empty",
        "Error committing input audio buffer: buffer too small. Expected at least 100ms of audio, "
        f"but buffer only has {buffered_ms:.2f}ms of audio.",
    )


def active_response(response_id: str, *, beta: bool) -> ClientEventError:
    if beta:  # the beta service sent code null and the short message (real_error_events_from_issues)
        return ClientEventError(None, "Conversation already has an active response")
    return ClientEventError(
        "conversation_already_has_active_response",
        f"Conversation already has an active response in progress: {response_id}. "
        "Wait until the response is finished before creating a new one.",
    )


def cancel_not_active() -> ClientEventError:
    return ClientEventError("response_cancel_not_active", "Cancellation failed: no active response found")


def audio_too_short(audio_ms: int, audio_end_ms: int) -> ClientEventError:
    return ClientEventError(
        "invalid_value",
        f"Audio content of {audio_ms}ms is already shorter than {audio_end_ms}ms",
        param="audio_end_ms",
    )


def beta_shape_disabled() -> ClientEventError:
    return ClientEventError(
        "beta_api_shape_disabled",
        "The Realtime Beta API is no longer supported. Please use /v1/realtime for the GA API.",
    )
