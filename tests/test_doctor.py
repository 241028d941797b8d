"""``agent-rt doctor``: each check, the exit status, and that the key's value never shows."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from agent_rt import doctor
from agent_rt.server import LocalRealtimeServer

ROOT = Path(__file__).resolve().parent.parent
SECRET = "sk-proj-doctor0123456789abcdefSECRET"


def run(
    *args: str, env: dict[str, str] | None = None, path: tuple[Path, ...] = ()
) -> subprocess.CompletedProcess[str]:
    environ = {key: value for key, value in os.environ.items() if key != "OPENAI_API_KEY"}
    environ.update(env or {})
    if path:
        environ["PYTHONPATH"] = os.pathsep.join(str(entry) for entry in path)
    return subprocess.run(
        [sys.executable, "-m", "agent_rt", "doctor", *args],
        capture_output=True,
        text=True,
        timeout=60,
        env=environ,
        check=False,
    )


def closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
    return port


def test_a_healthy_install_passes_offline() -> None:
    result = run("--offline")
    assert result.returncode == 0, result.stdout + result.stderr
    lines = result.stdout.splitlines()
    assert lines[0].startswith("agent-rt doctor (agentrt ")
    for name in ("python", "agentrt", "name clash", "plugins", "api key", "url"):
        assert any(line.split()[1:2] == name.split()[:1] for line in lines[1:]), name
    assert "loaded: clock (2 tools), weather (1 tool)" in result.stdout
    assert "OPENAI_API_KEY is not set" in result.stdout
    assert lines[-1].startswith("no problems")


def test_the_key_is_reported_present_but_never_shown() -> None:
    result = run("--offline", "--json", env={"OPENAI_API_KEY": SECRET})
    assert result.returncode == 0, result.stderr
    assert SECRET not in result.stdout + result.stderr
    checks = {check["name"]: check for check in json.loads(result.stdout)}
    assert checks["api key"] == {
        "name": "api key",
        "status": "ok",
        "detail": "OPENAI_API_KEY is set (value not shown)",
        "fix": "",
    }


def test_a_key_with_whitespace_fails() -> None:
    check = doctor.check_api_key({"OPENAI_API_KEY": SECRET + "\n"})
    assert (check.status, check.detail) == ("fail", "OPENAI_API_KEY is set but contains whitespace")
    assert SECRET not in check.detail + check.fix


@pytest.mark.anyio
async def test_the_url_check_reaches_a_local_server() -> None:
    async with LocalRealtimeServer() as server:
        check = await doctor.check_url(server.url, has_key=False, offline=False, timeout=5)
    assert check.status == "ok", check
    assert "reachable (TCP to 127.0.0.1:" in check.detail


@pytest.mark.anyio
async def test_an_unreachable_url_fails_when_given_and_warns_when_only_the_default() -> None:
    url = f"ws://127.0.0.1:{closed_port()}/v1/realtime"
    given = await doctor.check_url(url, has_key=False, offline=False, timeout=5)
    assert (given.status, given.fix) == ("fail", "check the address, the network or a firewall")
    assert "unreachable" in given.detail
    assert (await doctor.check_url("http://x", has_key=False, offline=False, timeout=5)).status == "fail"


def test_an_unreachable_url_makes_the_exit_status_1() -> None:
    result = run("--url", f"ws://127.0.0.1:{closed_port()}/v1/realtime")
    assert result.returncode == 1
    assert result.stdout.splitlines()[-1] == "1 problem to fix"


def test_the_foreign_module_is_a_failure_with_the_fix(tmp_path: Path) -> None:
    (tmp_path / "agent_rt.py").write_text("FOREIGN = True\n")
    result = run("--offline", path=(ROOT, tmp_path))
    assert result.returncode == 1
    assert f"fail  name clash   {tmp_path / 'agent_rt.py'} is a module named agent_rt" in result.stdout
    assert "fix: pip uninstall agent-rt" in result.stdout


def test_the_foreign_distribution_is_recognised_by_its_files(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    info = tmp_path / "agent_rt-0.0.3.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: agent-rt\nVersion: 0.0.3\n")
    (info / "RECORD").write_text("agent_rt.py,,\nagent_rt-0.0.3.dist-info/METADATA,,\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    [check] = [check for check in doctor.check_name_clash() if "distribution" in check.detail]
    assert check.status == "fail"
    assert "named 'agent-rt' 0.0.3 is installed (the unrelated project)" in check.detail
    assert check.fix == "pip uninstall agent-rt, then pip install --force-reinstall agentrt"


def test_the_extras_are_read_from_the_installed_metadata() -> None:
    packages = doctor.extra_packages()
    assert packages["otel"] == ("opentelemetry-api",)
    assert "starlette" in packages["relay"]
    assert packages["mcp"] == ("mcp",)


def test_extras_say_how_to_install_them() -> None:
    checks = {check.name: check for check in doctor.check_extras()}
    assert set(checks) == {"extra relay", "extra mcp", "extra otel"}
    assert checks["extra otel"].status == "ok"  # the dev extra installs opentelemetry-api
    for check in checks.values():
        assert check.status in ("ok", "info")
        if check.status == "info":
            assert "pip install 'agentrt[" in check.detail


def test_a_plugin_that_fails_to_load_is_a_failure(tmp_path: Path) -> None:
    (tmp_path / "doctor_broken_plugin.py").write_text("raise ImportError('needs libfoo')\n")
    info = tmp_path / "doctor_broken-1.0.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: doctor-broken\nVersion: 1.0\n")
    (info / "entry_points.txt").write_text("[agent_rt]\ndoctor_broken = doctor_broken_plugin\n")
    result = run("--offline", env={"AGENT_RT_PLUGINS": "doctor_broken"}, path=(tmp_path,))
    assert result.returncode == 1
    reason = "plugin 'doctor_broken': import failed: ImportError: needs libfoo"
    assert f"fail  plugins      loaded: none; failed: {reason}" in result.stdout
    assert "fix: see agent-rt plugins" in result.stdout
