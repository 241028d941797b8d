"""The ``mcpServers`` configuration: the format other MCP clients already use, checked early.

A configuration is a JSON file, a dict, or the path in ``AGENT_RT_MCP_CONFIG``::

    {"mcpServers": {
        "calc": {"command": "python", "args": ["server.py"], "env": {"UNITS": "si"}, "cwd": "tools"},
        "web":  {"url": "http://127.0.0.1:9000/mcp", "headers": {"Authorization": "Bearer ..."}},
        "gh":   {"command": "gh-mcp", "prefix": "gh_"}
    }}

Per server: ``command`` (+ ``args``, ``env``, ``cwd``) starts a stdio server; ``url`` (+ ``headers``)
connects to a streamable HTTP server. ``prefix`` is prepended to the server's tool names (opt-in,
for name clashes); ``disabled: true`` skips the server; ``timeout`` (seconds) is the server's
tool-call timeout. Keys other tools write and that don't concern us (``type``, ``description``,
``autoApprove``, ...) are ignored. Pure: parsing does no I/O except reading the file it is given.
"""

from __future__ import annotations

import json
import math
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Union

from .._secrets import register_secret
from ..errors import ConfigurationError

__all__ = [
    "ENV_VAR",
    "McpConfigError",
    "McpServerConfig",
    "McpServersSource",
    "load_mcp_config",
    "register_tool_secrets",
]

#: The environment variable naming a configuration file when none is given.
ENV_VAR = "AGENT_RT_MCP_CONFIG"

_NAME = re.compile(r"[A-Za-z0-9_.-]{1,64}")
_PREFIX = re.compile(r"[A-Za-z0-9_-]{0,32}")
_SECRET_KEY = re.compile(r"(?i)token|key|secret|password|auth")
_KNOWN = {"command", "args", "env", "cwd", "url", "headers", "prefix", "disabled", "timeout"}
#: Keys other clients put in the same file; accepted and ignored.
_IGNORED = {"type", "transport", "description", "autoApprove", "alwaysAllow", "note", "notes"}

McpServersSource = Union[str, "os.PathLike[str]", Mapping[str, Any], None]


class McpConfigError(ConfigurationError):
    """The ``mcpServers`` configuration is invalid; the message names the server and the key."""


@dataclass(frozen=True)
class McpServerConfig:
    """One server of the configuration (stdio when ``command`` is set, else streamable HTTP)."""

    name: str
    command: str | None = None
    args: tuple[str, ...] = ()
    env: Mapping[str, str] = field(default_factory=dict)
    cwd: str | None = None
    url: str | None = None
    headers: Mapping[str, str] = field(default_factory=dict, repr=False)
    prefix: str = ""
    timeout: float | None = None

    @property
    def transport(self) -> str:
        return "stdio" if self.command is not None else "http"

    def describe(self) -> str:
        """A short label for messages: the command or URL, never headers or env values."""
        if self.command is not None:
            return " ".join([self.command, *self.args])
        return str(self.url)


def load_mcp_config(
    source: McpServersSource = None, *, base_dir: str | Path | None = None
) -> list[McpServerConfig]:
    """Parse a configuration: a path, a dict (with ``mcpServers`` or the servers themselves), or None.

    ``None`` reads the file named by ``AGENT_RT_MCP_CONFIG`` (no servers when unset). A relative
    ``cwd`` is resolved against the configuration file's folder (or ``base_dir``).
    """
    if source is None:
        env_path = os.environ.get(ENV_VAR, "").strip()
        if not env_path:
            return []
        source = env_path
    if isinstance(source, (str, os.PathLike)):
        path = Path(source)
        try:
            raw = json.loads(path.read_text(encoding="utf-8"))
        except OSError as exc:
            raise McpConfigError(f"cannot read MCP config {str(path)!r}: {exc.strerror or exc}") from None
        except ValueError as exc:
            raise McpConfigError(f"MCP config {str(path)!r} is not valid JSON: {exc}") from None
        if base_dir is None:
            base_dir = path.resolve().parent
        return parse_mcp_config(raw, base_dir=base_dir)
    if isinstance(source, Mapping):
        return parse_mcp_config(source, base_dir=base_dir)
    raise McpConfigError(f"an MCP config is a path or a dict, not {type(source).__name__}")


def parse_mcp_config(raw: Any, *, base_dir: str | Path | None = None) -> list[McpServerConfig]:
    """Check a parsed configuration and return its enabled servers, in file order."""
    if not isinstance(raw, Mapping):
        raise McpConfigError(f"an MCP config must be a JSON object, not {type(raw).__name__}")
    servers = raw.get("mcpServers", raw)
    if not isinstance(servers, Mapping):
        raise McpConfigError("'mcpServers' must be an object of server name -> settings")
    configs: list[McpServerConfig] = []
    for name, settings in servers.items():
        config = _server(name, settings, base_dir)
        if config is not None:
            configs.append(config)
    return configs


def _server(name: Any, settings: Any, base_dir: str | Path | None) -> McpServerConfig | None:
    if not isinstance(name, str) or not _NAME.fullmatch(name):
        raise McpConfigError(f"MCP server name {name!r} must be 1-64 letters, digits, '_', '-' or '.'")
    where = f"MCP server {name!r}"
    if not isinstance(settings, Mapping):
        raise McpConfigError(f"{where}: settings must be an object, not {type(settings).__name__}")
    unknown = sorted(str(key) for key in settings if key not in _KNOWN and key not in _IGNORED)
    if unknown:
        raise McpConfigError(f"{where}: unknown key(s) {', '.join(map(repr, unknown))}")
    disabled = settings.get("disabled", False)
    if not isinstance(disabled, bool):
        raise McpConfigError(f"{where}: 'disabled' must be true or false")
    has_command, has_url = "command" in settings, "url" in settings
    if has_command == has_url:
        raise McpConfigError(f"{where}: give either 'command' (stdio) or 'url' (streamable HTTP)")
    prefix = settings.get("prefix", "")
    if not isinstance(prefix, str) or not _PREFIX.fullmatch(prefix):
        raise McpConfigError(f"{where}: 'prefix' must be up to 32 letters, digits, '_' or '-'")
    timeout = settings.get("timeout")
    if timeout is not None and (
        isinstance(timeout, bool)
        or not isinstance(timeout, (int, float))
        or math.isnan(timeout)
        or timeout <= 0
    ):
        raise McpConfigError(f"{where}: 'timeout' must be a positive number of seconds")
    if disabled:
        return None
    if has_command:
        for key in ("url", "headers"):
            if key in settings:
                raise McpConfigError(f"{where}: {key!r} goes with 'url', not with 'command'")
        command = settings["command"]
        if not isinstance(command, str) or not command.strip():
            raise McpConfigError(f"{where}: 'command' must be a non-empty string")
        args = settings.get("args", [])
        if not isinstance(args, list) or not all(isinstance(arg, str) for arg in args):
            raise McpConfigError(f"{where}: 'args' must be a list of strings")
        env = _str_map(settings.get("env", {}), f"{where}: 'env'")
        for key, value in env.items():
            if _SECRET_KEY.search(key):
                register_secret(value)
        cwd = settings.get("cwd")
        if cwd is not None:
            if not isinstance(cwd, str) or not cwd:
                raise McpConfigError(f"{where}: 'cwd' must be a non-empty string")
            if base_dir is not None and not Path(cwd).is_absolute():
                cwd = str(Path(base_dir) / cwd)
        return McpServerConfig(
            name=name,
            command=command,
            args=tuple(args),
            env=env,
            cwd=cwd,
            prefix=prefix,
            timeout=float(timeout) if timeout is not None else None,
        )
    for key in ("args", "env", "cwd"):
        if key in settings:
            raise McpConfigError(f"{where}: {key!r} goes with 'command', not with 'url'")
    url = settings["url"]
    if not isinstance(url, str) or not url.startswith(("http://", "https://")):
        raise McpConfigError(f"{where}: 'url' must be an http:// or https:// URL")
    headers = _str_map(settings.get("headers", {}), f"{where}: 'headers'")
    for value in headers.values():  # header values are often tokens: keep them out of every log
        register_secret(value.split()[-1] if value.split() else value)
    return McpServerConfig(
        name=name,
        url=url,
        headers=headers,
        prefix=prefix,
        timeout=float(timeout) if timeout is not None else None,
    )


def register_tool_secrets(tools: Any) -> None:
    """Mask the ``authorization`` and header values of remote ``mcp`` session tools in every log."""
    if not isinstance(tools, list):
        return
    for tool in tools:
        if not isinstance(tool, Mapping) or tool.get("type") != "mcp":
            continue
        values = [tool.get("authorization")]
        headers = tool.get("headers")
        if isinstance(headers, Mapping):
            values.extend(headers.values())
        for value in values:
            if isinstance(value, str) and value:
                register_secret(value)
                register_secret(value.split()[-1])  # "Bearer <token>": the token alone too


def _str_map(value: Any, where: str) -> dict[str, str]:
    if not isinstance(value, Mapping) or not all(
        isinstance(key, str) and isinstance(entry, str) for key, entry in value.items()
    ):
        raise McpConfigError(f"{where} must be an object of string -> string")
    return dict(value)
