"""The pure (I/O-free) protocol core: dialect translation and the conversation cache."""

from .conversation import ConversationUpdate, RealtimeConversation
from .dialect import Dialect, config_to_wire, normalize_event_type

__all__ = ["ConversationUpdate", "Dialect", "RealtimeConversation", "config_to_wire", "normalize_event_type"]
