"""The wheels: names, one version, extras, entry points, and every file of the package inside.

Built with the standard frontend without build isolation (hatchling comes with the dev extra), so the
test needs no network. CI also installs the wheels into a fresh virtualenv and runs them from outside
the checkout (``.ci/wheel-smoke``).
"""

from __future__ import annotations

import email.parser
import subprocess
import sys
import zipfile
from email.message import Message
from pathlib import Path

import pytest

import agent_rt

ROOT = Path(__file__).resolve().parent.parent


def build_wheel(project: Path, out: Path) -> Path:
    subprocess.run(
        [sys.executable, "-m", "build", "--wheel", "--no-isolation", "--outdir", str(out), str(project)],
        check=True,
        capture_output=True,
        timeout=120,
    )
    [wheel] = out.glob("*.whl")
    return wheel


def metadata(wheel: Path) -> tuple[Message, list[str], str]:
    """(METADATA, file names, entry_points.txt) of a wheel."""
    with zipfile.ZipFile(wheel) as archive:
        names = archive.namelist()
        [meta] = [name for name in names if name.endswith(".dist-info/METADATA")]
        [points] = [name for name in names if name.endswith(".dist-info/entry_points.txt")]
        parsed = email.parser.Parser().parsestr(archive.read(meta).decode())
        return parsed, names, archive.read(points).decode()


@pytest.fixture(scope="module")
def main_wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_wheel(ROOT, tmp_path_factory.mktemp("dist"))


def test_the_distribution_is_agentrt_with_the_package_version(main_wheel: Path) -> None:
    meta, _, points = metadata(main_wheel)
    assert main_wheel.name == f"agentrt-{agent_rt.__version__}-py3-none-any.whl"
    assert (meta["Name"], meta["Version"]) == ("agentrt", agent_rt.__version__)
    assert "agent-rt = agent_rt.cli:main" in points


def test_the_extras_are_declared(main_wheel: Path) -> None:
    meta, _, _ = metadata(main_wheel)
    extras = set(meta.get_all("Provides-Extra") or [])
    assert {"relay", "mcp", "otel", "dev", "all"} <= extras
    requires = meta.get_all("Requires-Dist") or []
    assert "opentelemetry-api>=1.25; extra == 'otel'" in requires
    assert not any(line.startswith("opentelemetry") and "extra" not in line for line in requires)
    for package in ("opentelemetry-api", "starlette", "uvicorn", "mcp"):
        assert any(line.startswith(package) and "extra == 'all'" in line for line in requires), package


def test_every_file_of_the_package_is_in_the_wheel(main_wheel: Path) -> None:
    """py.typed, scenarios, the console's static files: anything under agent_rt/, not only .py files."""
    _, names, _ = metadata(main_wheel)
    on_disk = {
        path.relative_to(ROOT).as_posix()
        for path in (ROOT / "agent_rt").rglob("*")
        if path.is_file() and "__pycache__" not in path.parts and path.suffix != ".pyc"
    }
    assert "agent_rt/py.typed" in on_disk
    assert sorted(on_disk - set(names)) == []
    assert not [name for name in names if name.startswith(("tests/", "plugins/", "docs/"))]


@pytest.mark.parametrize(
    ("folder", "dist", "module"),
    [("weather", "agentrt-weather", "agent_rt_weather"), ("clock", "agentrt-clock", "agent_rt_clock")],
)
def test_plugin_wheels(tmp_path: Path, folder: str, dist: str, module: str) -> None:
    wheel = build_wheel(ROOT / "plugins" / f"agent-rt-{folder}", tmp_path)
    meta, names, points = metadata(wheel)
    assert meta["Name"] == dist
    assert f"{module}/py.typed" in names
    assert any(line.startswith("agentrt>=") for line in meta.get_all("Requires-Dist") or [])
    assert points.split() == ["[agent_rt]", folder, "=", module]
