"""The unrelated ``agent-rt`` distribution's top-level ``agent_rt.py``: found at import and by doctor."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from agent_rt._name_clash import foreign_modules

ROOT = Path(__file__).resolve().parent.parent


def python(code: str, *path: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(str(entry) for entry in path)}
    return subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, env=env, check=False
    )


def test_foreign_modules_are_files_named_agent_rt_py(tmp_path: Path) -> None:
    (tmp_path / "a").mkdir()
    (tmp_path / "a" / "agent_rt.py").write_text("X = 1\n")
    (tmp_path / "b" / "agent_rt").mkdir(parents=True)  # a package directory is not the foreign module
    assert foreign_modules([str(tmp_path / "a"), str(tmp_path / "b"), str(tmp_path / "missing")]) == [
        str(tmp_path / "a" / "agent_rt.py")
    ]


def test_import_warns_when_the_foreign_module_is_on_the_path(tmp_path: Path) -> None:
    (tmp_path / "agent_rt.py").write_text("FOREIGN = True\n")
    result = python("import agent_rt; print(agent_rt.__version__)", ROOT, tmp_path)
    assert result.returncode == 0, result.stderr
    assert "NameClashWarning" in result.stderr
    assert str(tmp_path / "agent_rt.py") in result.stderr
    assert "pip uninstall agent-rt" in result.stderr


def test_import_is_silent_without_it(tmp_path: Path) -> None:
    result = python("import agent_rt", ROOT)
    assert result.returncode == 0, result.stderr
    assert "NameClashWarning" not in result.stderr
