"""The name clash with the unrelated ``agent-rt`` distribution, found cheaply.

That distribution (not this project: ours is ``agentrt``) installs a top-level module
``agent_rt.py``. Next to our package in the same ``site-packages`` the package wins and that module
is dead; in an earlier ``sys.path`` entry the module wins and ``import agent_rt.cli`` fails with
"'agent_rt' is not a package". Importing agent_rt warns once when such a file exists (a few
``stat`` calls); ``agent-rt doctor`` says the same, and what to do.
"""

from __future__ import annotations

import os
import sys
import warnings
from collections.abc import Iterable

__all__ = ["FOREIGN_DISTRIBUTION", "NameClashWarning", "advice", "foreign_modules", "warn_if_found"]

FOREIGN_DISTRIBUTION = "agent-rt"


class NameClashWarning(UserWarning):
    """A module ``agent_rt.py`` on ``sys.path`` (most likely the unrelated ``agent-rt`` distribution)."""


def foreign_modules(paths: Iterable[str] | None = None) -> list[str]:
    """Every file ``agent_rt.py`` directly in a ``sys.path`` entry (the current directory for ``""``)."""
    found: list[str] = []
    for entry in sys.path if paths is None else paths:
        candidate = os.path.join(entry or os.curdir, "agent_rt.py")
        if os.path.isfile(candidate):
            found.append(os.path.abspath(candidate))
    return found


def advice(path: str) -> str:
    return (
        f"{path} is a module named agent_rt that is not part of agentrt (the unrelated PyPI "
        f"distribution {FOREIGN_DISTRIBUTION!r} installs one); it shadows or is shadowed by the "
        f"agent_rt package. Fix: pip uninstall {FOREIGN_DISTRIBUTION} (or remove the file), then "
        "pip install --force-reinstall agentrt"
    )


def warn_if_found() -> None:
    """Called by ``import agent_rt``; silent unless such a file exists."""
    for path in foreign_modules():
        warnings.warn(advice(path), NameClashWarning, stacklevel=3)
