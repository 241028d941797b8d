"""Process-wide counters of one relay, rendered as Prometheus text at ``/metrics``.

Plain integers bumped on the forwarding path (no locks: the relay runs on one event loop per
process, and an increment never spans an await). With several workers each process has its own
counters; a Prometheus scrape per worker, or a sum, gives the total.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field


def _escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


@dataclass
class RelayMetrics:
    sessions_active: int = 0
    sessions_total: int = 0
    upstreams_open: int = 0
    frames: Counter[str] = field(default_factory=Counter)
    """Frames by direction: ``client`` (received from clients, forwarded or answered by the relay)
    and ``server`` (upstream to client)."""
    bytes: Counter[str] = field(default_factory=Counter)
    refused: Counter[str] = field(default_factory=Counter)
    """Handshakes refused, by reason: unauthorized, forbidden, model, ..."""
    closes: Counter[int] = field(default_factory=Counter)
    """Sessions ended, by the close code sent to the client."""
    tokens: Counter[tuple[str, str]] = field(default_factory=Counter)
    """Tokens used, by (identity, kind): input, output, input_audio, output_audio, cached, ..."""
    events_refused: Counter[str] = field(default_factory=Counter)
    """Client events the relay answered with an error instead of forwarding, by reason."""
    events_dropped: Counter[str] = field(default_factory=Counter)
    """Client events the relay did not forward and that need no answer (a client's duplicate
    answer to a call the relay answers itself), by reason."""

    def health(self) -> dict[str, int]:
        return {
            "sessions_active": self.sessions_active,
            "sessions_total": self.sessions_total,
            "upstreams_open": self.upstreams_open,
        }

    def render(self) -> str:
        """The Prometheus text exposition format (version 0.0.4)."""
        lines: list[str] = []

        def metric(name: str, kind: str, help_text: str, samples: list[tuple[str, float]]) -> None:
            lines.append(f"# HELP agent_rt_relay_{name} {help_text}")
            lines.append(f"# TYPE agent_rt_relay_{name} {kind}")
            lines.extend(f"agent_rt_relay_{name}{labels} {value:g}" for labels, value in samples)

        metric("sessions_active", "gauge", "Sessions open now.", [("", self.sessions_active)])
        metric("sessions_total", "counter", "Sessions accepted.", [("", self.sessions_total)])
        metric("upstreams_open", "gauge", "Upstream connections open now.", [("", self.upstreams_open)])
        metric(
            "frames_total",
            "counter",
            "Frames forwarded, by direction.",
            [(f'{{direction="{d}"}}', float(n)) for d, n in sorted(self.frames.items())],
        )
        metric(
            "bytes_total",
            "counter",
            "Characters of frames forwarded, by direction.",
            [(f'{{direction="{d}"}}', float(n)) for d, n in sorted(self.bytes.items())],
        )
        metric(
            "handshakes_refused_total",
            "counter",
            "Handshakes refused, by reason.",
            [(f'{{reason="{_escape(r)}"}}', float(n)) for r, n in sorted(self.refused.items())],
        )
        metric(
            "closes_total",
            "counter",
            "Sessions ended, by close code.",
            [(f'{{code="{c}"}}', float(n)) for c, n in sorted(self.closes.items())],
        )
        metric(
            "events_refused_total",
            "counter",
            "Client events answered with an error instead of being forwarded, by reason.",
            [(f'{{reason="{_escape(r)}"}}', float(n)) for r, n in sorted(self.events_refused.items())],
        )
        metric(
            "events_dropped_total",
            "counter",
            "Client events not forwarded because the relay already does what they ask, by reason.",
            [(f'{{reason="{_escape(r)}"}}', float(n)) for r, n in sorted(self.events_dropped.items())],
        )
        metric(
            "tokens_total",
            "counter",
            "Tokens used (from response.done), by identity and kind.",
            [
                (f'{{identity="{_escape(who)}",kind="{_escape(kind)}"}}', float(n))
                for (who, kind), n in sorted(self.tokens.items())
            ],
        )
        return "\n".join(lines) + "\n"
