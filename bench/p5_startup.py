"""P5: ``import agent_rt`` time, and plugin discovery with 50 installed dummy plugins."""

from __future__ import annotations

import subprocess
import sys
import tempfile
import textwrap
from pathlib import Path

from .common import Row

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


def _time(code: str, repeats: int) -> float:
    best = float("inf")
    for _ in range(repeats):
        out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
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
            "P5 plugin discovery, 50 dummy plugins",
            f"{discovery * 1e3:.0f} ms",
            "",
            None,
            "< 200 ms",
            discovery < 0.200,
        ),
    ]
