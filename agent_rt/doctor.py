"""``agent-rt doctor``: what is installed and configured, what is wrong, and how to fix it.

Checks Python, the installed agentrt and its extras, the plugins, the name clash with the
unrelated ``agent-rt`` distribution, whether an API key is set (never its value) and whether the
configured URL is reachable. Each check is ``ok``, ``info`` (nothing to do), ``warn`` (works, but
look) or ``fail`` (fix this); the exit status is 1 when one failed.
"""

from __future__ import annotations

import argparse
import importlib.metadata
import json
import os
import re
import shutil
import ssl
import sys
import time
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Literal
from urllib.parse import urlsplit

import anyio

from . import __version__, _name_clash
from ._secrets import redact
from .api import DEFAULT_URL
from .plugins import load_plugins

__all__ = ["EXTRAS", "Check", "register", "run_checks"]

Status = Literal["ok", "info", "warn", "fail"]

DISTRIBUTION = "agentrt"
MIN_PYTHON = (3, 10)

#: The runtime extras, what each is for, and its distributions when agentrt's metadata can't be read.
EXTRAS: Mapping[str, tuple[tuple[str, ...], str]] = {
    "relay": (("starlette", "uvicorn"), "agent_rt.relay"),
    "mcp": (("mcp",), "agent_rt.mcp (MCP servers' tools)"),
    "otel": (("opentelemetry-api",), "agent_rt.telemetry (OpenTelemetry spans)"),
}
_EXTRA_MARKER = re.compile(r"""extra\s*==\s*["']([^"']+)["']""")
_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]*")


@dataclass(frozen=True)
class Check:
    """One finding: ``fix`` says what to do when the status is ``warn`` or ``fail``."""

    name: str
    status: Status
    detail: str
    fix: str = ""


async def run_checks(
    *,
    url: str | None = None,
    offline: bool = False,
    timeout: float = 5.0,
    environ: Mapping[str, str] | None = None,
) -> list[Check]:
    """Every check, in the order ``agent-rt doctor`` prints them."""
    env = os.environ if environ is None else environ
    checks = [check_python(), check_distribution(), *check_name_clash(), *check_extras(), check_plugins()]
    checks.append(check_api_key(env))
    checks.append(
        await check_url(url, has_key=bool(env.get("OPENAI_API_KEY")), offline=offline, timeout=timeout)
    )
    return checks


def check_python() -> Check:
    version = ".".join(map(str, sys.version_info[:3]))
    if sys.version_info[:2] < MIN_PYTHON:
        return Check("python", "fail", f"{version} at {sys.executable}", "agentrt needs Python 3.10 or newer")
    return Check("python", "ok", f"{version} at {sys.executable}")


def check_distribution() -> Check:
    location = Path(__file__).resolve().parent
    try:
        installed = importlib.metadata.version(DISTRIBUTION)
    except importlib.metadata.PackageNotFoundError:
        return Check(
            DISTRIBUTION,
            "warn",
            f"agent_rt {__version__} imported from {location}, but no {DISTRIBUTION} distribution "
            "is installed",
            "pip install agentrt (or pip install -e . in a checkout); plugins depend on it",
        )
    if installed != __version__:
        return Check(
            DISTRIBUTION,
            "warn",
            f"installed metadata says {installed}, the code at {location} is {__version__}",
            "reinstall: pip install --force-reinstall agentrt (or pip install -e . in a checkout)",
        )
    return Check(DISTRIBUTION, "ok", f"{__version__} at {location}")


def check_name_clash() -> list[Check]:
    """The unrelated ``agent-rt`` distribution: its ``agent_rt.py``, its metadata, its command."""
    uninstall = f"pip uninstall {_name_clash.FOREIGN_DISTRIBUTION}"
    checks = [
        Check("name clash", "fail", _name_clash.advice(path), uninstall)
        for path in _name_clash.foreign_modules()
    ]
    try:
        foreign = importlib.metadata.distribution(_name_clash.FOREIGN_DISTRIBUTION)
    except importlib.metadata.PackageNotFoundError:
        foreign = None
    if foreign is not None:
        files = {Path(str(entry)).as_posix() for entry in foreign.files or ()}
        kind = (
            "the unrelated project" if "agent_rt.py" in files else "another project, or agentrt's former name"
        )
        checks.append(
            Check(
                "name clash",
                "fail" if "agent_rt.py" in files else "warn",
                f"a distribution named {_name_clash.FOREIGN_DISTRIBUTION!r} {foreign.version} is installed "
                f"({kind}); this package is {DISTRIBUTION!r}",
                f"{uninstall}, then pip install --force-reinstall agentrt",
            )
        )
    command = shutil.which("agent-rt")
    if command is not None and not _is_our_command(Path(command)):
        checks.append(
            Check(
                "name clash",
                "warn",
                f"the agent-rt command on PATH ({command}) does not run agent_rt.cli",
                "pip install --force-reinstall agentrt in this environment, or fix PATH",
            )
        )
    if not checks:
        checks.append(Check("name clash", "ok", "no foreign agent_rt module or 'agent-rt' distribution"))
    return checks


def _is_our_command(path: Path) -> bool:
    try:
        with path.open("rb") as script:
            head = script.read(4096)
    except OSError:
        return True  # can't tell: say nothing
    return b"agent_rt.cli" in head or not head.startswith(b"#!")  # a native launcher: can't tell


def extra_packages() -> dict[str, tuple[str, ...]]:
    """Each runtime extra's distributions, from the installed agentrt's metadata (as pyproject.toml says)."""
    found: dict[str, list[str]] = {}
    try:
        requirements = importlib.metadata.requires(DISTRIBUTION) or []
    except importlib.metadata.PackageNotFoundError:
        requirements = []
    for requirement in requirements:
        marker, name = _EXTRA_MARKER.search(requirement), _NAME.match(requirement)
        if marker is not None and name is not None and marker.group(1) in EXTRAS:
            found.setdefault(marker.group(1), []).append(name.group(0))
    return {extra: tuple(found.get(extra, ())) or packages for extra, (packages, _) in EXTRAS.items()}


def check_extras() -> list[Check]:
    checks: list[Check] = []
    for extra, packages in extra_packages().items():
        purpose = EXTRAS[extra][1]
        versions: list[str] = []
        for package in packages:
            try:
                versions.append(f"{package} {importlib.metadata.version(package)}")
            except importlib.metadata.PackageNotFoundError:
                break
        else:
            checks.append(Check(f"extra {extra}", "ok", ", ".join(versions)))
            continue
        checks.append(
            Check(f"extra {extra}", "info", f"not installed: pip install 'agentrt[{extra}]' for {purpose}")
        )
    return checks


def check_plugins() -> Check:
    loaded = load_plugins()
    names = ", ".join(f"{info.name} ({_count(len(info.tools), 'tool')})" for info in loaded.plugins) or "none"
    if loaded.failures:
        problems = "; ".join(str(error) for error in loaded.failures)
        return Check("plugins", "fail", f"loaded: {names}; failed: {problems}", "see agent-rt plugins")
    if loaded.conflicts:
        problems = "; ".join(str(error) for error in loaded.conflicts)
        return Check("plugins", "warn", f"loaded: {names}; {problems}", "disable one plugin of each conflict")
    return Check("plugins", "ok", f"loaded: {names}")


def _count(number: int, noun: str) -> str:
    return f"{number} {noun}{'' if number == 1 else 's'}"


def check_api_key(environ: Mapping[str, str]) -> Check:
    key = environ.get("OPENAI_API_KEY")
    if not key:
        return Check(
            "api key", "info", "OPENAI_API_KEY is not set (needed only for the real service, e.g. --live)"
        )
    if key != key.strip() or any(char.isspace() for char in key):
        return Check(
            "api key", "fail", "OPENAI_API_KEY is set but contains whitespace", "set it again without spaces"
        )
    return Check("api key", "ok", "OPENAI_API_KEY is set (value not shown)")


async def check_url(url: str | None, *, has_key: bool, offline: bool, timeout: float) -> Check:
    """TCP (and TLS for ``wss://``) to the URL's host; a failure matters when that URL is meant to be used."""
    target = url or DEFAULT_URL
    shown = redact(target)
    parts = urlsplit(target)
    if parts.scheme not in ("ws", "wss") or not parts.hostname:
        return Check(
            "url", "fail", f"{shown} is not a ws:// or wss:// URL", "pass --url ws://HOST:PORT/v1/realtime"
        )
    if offline:
        return Check("url", "info", f"{shown}: not checked (--offline)")
    port = parts.port or (443 if parts.scheme == "wss" else 80)
    started = time.perf_counter()
    try:
        with anyio.fail_after(timeout):
            if parts.scheme == "wss":
                tls = await anyio.connect_tcp(parts.hostname, port, ssl_context=ssl.create_default_context())
                await tls.aclose()
            else:
                plain = await anyio.connect_tcp(parts.hostname, port)
                await plain.aclose()
    except (OSError, TimeoutError, ssl.SSLError, anyio.BrokenResourceError) as exc:
        meant = url is not None or has_key
        reason = "timed out" if isinstance(exc, TimeoutError) else redact(str(exc) or type(exc).__name__)
        return Check(
            "url",
            "fail" if meant else "warn",
            f"{shown}: unreachable ({reason})",
            "check the address, the network or a firewall"
            + ("" if meant else "; needed only for the real service (the local server needs no network)"),
        )
    elapsed = (time.perf_counter() - started) * 1000
    what = "TCP and TLS" if parts.scheme == "wss" else "TCP"
    return Check("url", "ok", f"{shown}: reachable ({what} to {parts.hostname}:{port} in {elapsed:.0f} ms)")


def format_checks(checks: Sequence[Check]) -> str:
    lines = [f"agent-rt doctor ({DISTRIBUTION} {__version__})"]
    width = max(len(check.name) for check in checks)
    for check in checks:
        lines.append(f"  {check.status:<4}  {check.name:<{width}}  {check.detail}")
        if check.fix and check.status in ("warn", "fail"):
            lines.append(f"        {'':<{width}}  fix: {check.fix}")
    failed = sum(check.status == "fail" for check in checks)
    warned = sum(check.status == "warn" for check in checks)
    if failed:
        lines.append(
            f"{failed} problem{'s' if failed > 1 else ''} to fix"
            + (f", {warned} to look at" if warned else "")
        )
    else:
        lines.append("no problems" + (f" ({warned} to look at)" if warned else ""))
    return "\n".join(lines)


async def doctor_command(args: argparse.Namespace) -> int:
    checks = await run_checks(url=args.url, offline=args.offline, timeout=args.timeout)
    if args.json:
        print(json.dumps([asdict(check) for check in checks], indent=2))
    else:
        print(format_checks(checks))
    return 1 if any(check.status == "fail" for check in checks) else 0


def register(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """The ``doctor`` command (a module of ``agent_rt.cli.COMMAND_MODULES``)."""
    sub = commands.add_parser("doctor", help="check the installation and configuration; says what to fix")
    sub.add_argument("--url", help=f"the Realtime URL to check (default: {DEFAULT_URL})")
    sub.add_argument("--offline", action="store_true", help="skip the network check")
    sub.add_argument("--timeout", type=float, default=5.0, help="seconds for the network check (default: 5)")
    sub.add_argument("--json", action="store_true", help="print the checks as JSON")
    sub.set_defaults(handler=doctor_command)
