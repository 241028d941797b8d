"""What the embedded local server says in console sessions (no key, no network).

Typed or spoken, the answers are scripted: time and maths questions call the clock plugin's tools
(``get_time``, ``calculate``; they work offline) so tool calls show up in the page, and everything
else gets a reply long enough (several seconds of paced audio) to try interrupting it.
"""

from __future__ import annotations

from typing import Any

#: Seconds before a response's first output, like a model's time to first audio.
FIRST_RESPONSE_DELAY = 0.3

CONSOLE_SCENARIO: dict[str, Any] = {
    "rules": [
        {
            "regex": r"^\W*(hello|hi|hey)\b",
            "reply": "Hi! I'm the local stand-in model. Ask me the time, or some maths.",
        },
        {
            "regex": r"time .*in tokyo",
            "calls": [{"name": "get_time", "arguments": {"timezone": "Asia/Tokyo"}}],
            "after_output": "In Tokyo it is {output.time} on {output.weekday}.",
        },
        {
            "regex": r"what is (?P<expression>[0-9 +*/().-]+)",
            "calls": [{"name": "calculate", "arguments": {"expression": "{expression}"}}],
            "after_output": "{output.expression} is {output.result}.",
        },
    ],
    "default_reply": (
        "I heard {text}. I am the local stand-in for a realtime model, so I do not understand speech, "
        "but I answer with audio paced like the real service: start talking while I speak and I stop."
    ),
}
