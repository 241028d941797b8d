"""The web console: a static page (HTML, CSS, ES modules) to talk to an agent in the browser.

The relay serves :func:`static_dir` at ``/`` when started with ``console=True``; ``agent-rt
console`` (:mod:`agent_rt.console.cli`) starts such a relay in front of the local server or the
real service. The page needs no build step and no network beyond its own origin.
"""

from __future__ import annotations

from pathlib import Path

__all__ = ["static_dir"]


def static_dir() -> Path:
    """The folder of the console's static files (``index.html`` and its modules)."""
    return Path(__file__).resolve().parent / "static"
