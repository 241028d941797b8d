"""``python -m agent_rt.relay.workers``: the worker processes of ``agent-rt relay --workers N``.

uvicorn's command line takes ``--ws`` from a fixed list, so workers started by it would run
uvicorn's own WebSocket protocol; this launcher gives them the relay's
(:func:`~agent_rt.relay.serving.relay_ws_protocol`, a class uvicorn pickles for its spawned
workers). It serves the listening socket ``agent-rt relay`` has bound (``--fd``), so the command
knows the port (``--port 0`` included) before any worker starts. Signals and exit statuses are
uvicorn's: with several workers its supervisor exits 0 after SIGTERM or SIGINT; one worker ends
by SIGTERM, as ``uvicorn app`` does; a failed startup exits 3.
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence

#: The application factory every worker calls (``AGENT_RT_RELAY_CONFIG`` holds its configuration).
APP = "agent_rt.relay.cli:app_from_environment"


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m agent_rt.relay.workers",
        description="Serve a bound socket with uvicorn's workers running the relay app.",
    )
    parser.add_argument("--fd", type=int, required=True, help="the listening socket's file descriptor")
    parser.add_argument("--workers", type=int, required=True, help="worker processes")
    parser.add_argument(
        "--timeout-graceful-shutdown", type=int, required=True, metavar="SECONDS", help="as uvicorn's option"
    )
    return parser


def main(argv: Sequence[str] | None = None) -> None:
    """Run uvicorn until it stops (it exits the process itself for a failed startup or SIGTERM)."""
    args = _parser().parse_args(argv)
    import uvicorn

    from .serving import uvicorn_options

    uvicorn.run(
        APP,
        factory=True,
        fd=args.fd,
        workers=args.workers,
        **uvicorn_options(args.timeout_graceful_shutdown),
    )


if __name__ == "__main__":  # pragma: no cover - run as a child process by `agent-rt relay`
    main()
