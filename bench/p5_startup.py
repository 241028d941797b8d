"""P5: ``import agent_rt`` time, and plugin discovery with 50 installed dummy plugins.

Measured as users get it: with the bytecode cached, as ``pip install`` leaves it. An environment
with ``PYTHONDONTWRITEBYTECODE`` (as in some containers) never caches it, so every import of an
editable checkout compiles agent_rt's sources again; that figure is shown beside, for reference
(a copy of the package imported with ``-B``; the dependencies keep their cached bytecode).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
import textwrap
from pathlib import Path

from .common import Row

PACKAGE = Path(__file__).resolve().parent.parent / "agent_rt"

IMPORT = "import time; t = time.perf_counter(); import agent_rt; print(time.perf_counter() - t)"
BASELINE = "import time; t = time.perf_counter(); import json, asyncio; print(time.perf_counter() - t)"

DISCOVER = """
import sys, time
sys.path.insert(0, {path!r})
import agent_rt
t = time.perf_counter()
loaded = agent_rt.load_plugins()
elapsed = time.perf_counter() - t
assert sum(1 for p in loaded.plugins if p.name.startswith("dummy")) == 50, loaded
print(elapsed)
"""


def _time(code: str, repeats: int, *, cold: bool = False) -> float:
    """Best of ``repeats`` fresh interpreters; a warm-up run first writes the bytecode cache.

    ``cold``: agent_rt is imported from a fresh copy of its sources with ``-B``, so it compiles.
    """
    env = {key: value for key, value in os.environ.items() if key != "PYTHONDONTWRITEBYTECODE"}
    with tempfile.TemporaryDirectory() as copy_root:
        command = [sys.executable, "-c", code]
        if cold:
            shutil.copytree(
                PACKAGE, Path(copy_root) / "agent_rt", ignore=shutil.ignore_patterns("__pycache__")
            )
            command = [sys.executable, "-B", "-c", f"import sys; sys.path.insert(0, {copy_root!r}); {code}"]
        else:
            subprocess.run(command, capture_output=True, check=True, env=env)
        best = float("inf")
        for _ in range(repeats):
            out = subprocess.run(command, capture_output=True, text=True, check=True, env=env)
            best = min(best, float(out.stdout.strip().splitlines()[-1]))
    return best


def _dummy_plugins(root: Path, count: int) -> None:
    for index in range(count):
        name = f"dummy{index}"
        package = root / f"agent_rt_{name}"
        package.mkdir()
        (package / "__init__.py").write_text(
            textwrap.dedent(f"""
            from agent_rt import function_tool, hookimpl

            @function_tool
            def tool_{index}(x: int) -> int:
                \"\"\"Returns x.\"\"\"
                return x

            @hookimpl
            def agent_rt_tools():
                return [tool_{index}]
        """)
        )
        info = root / f"agent_rt_{name}-1.0.dist-info"
        info.mkdir()
        (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: agent-rt-{name}\nVersion: 1.0\n")
        (info / "entry_points.txt").write_text(f"[agent_rt]\n{name} = agent_rt_{name}\n")


def run(quick: bool) -> list[Row]:
    repeats = 3 if quick else 7
    ours = _time(IMPORT, repeats)
    cold = _time(IMPORT, repeats, cold=True)
    base = _time(BASELINE, repeats)
    with tempfile.TemporaryDirectory() as tmp:
        _dummy_plugins(Path(tmp), 50)
        discovery = _time(DISCOVER.format(path=tmp), repeats)
    return [
        Row(
            "P5 import agent_rt",
            f"{ours * 1e3:.0f} ms",
            f"{base * 1e3:.0f} ms (json+asyncio)",
            ours / base,
            "< 150 ms",
            ours < 0.150,
        ),
        Row(
            "P5 import agent_rt, no bytecode cache (compiles)",
            f"{cold * 1e3:.0f} ms",
            f"{base * 1e3:.0f} ms (json+asyncio)",
            cold / base,
            "(report)",
            None,
        ),
        Row(
            "P5 plugin discovery, 50 dummy plugins",
            f"{discovery * 1e3:.0f} ms",
            "",
            None,
            "< 200 ms",
            discovery < 0.200,
        ),
    ]
