"""docs/relay.md: every Python snippet runs as written, and the hook it shows does what it says."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
from starlette.applications import Starlette

from agent_rt.relay import AuthRefused, AuthRequest, Identity

PAGE = Path(__file__).resolve().parents[2] / "docs" / "relay.md"


def _snippets() -> list[str]:
    return re.findall(r"```python\n(.*?)```", PAGE.read_text(encoding="utf-8"), flags=re.DOTALL)


def test_the_page_has_its_snippets() -> None:
    assert len(_snippets()) == 3


def test_the_mcp_snippet_reads_the_page_s_config(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (config,) = re.findall(r"<!-- snippet: file mcp.json -->\n```json\n(.*?)```", PAGE.read_text(), re.DOTALL)
    (tmp_path / "mcp.json").write_text(config)
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    namespace: dict[str, Any] = {}
    exec(compile(_snippets()[2], f"{PAGE}:snippet2", "exec"), namespace)
    relay = namespace["app"].state.relay
    assert [server.name for server in relay.mcp.configs] == ["calc"]
    assert "get_time" in [tool["name"] for tool in relay.tool_definitions]  # MCP tools join at startup


@pytest.mark.parametrize("index", [0, 1])
def test_snippet_runs(index: int, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    namespace: dict[str, Any] = {}
    exec(compile(_snippets()[index], f"{PAGE}:snippet{index}", "exec"), namespace)
    assert isinstance(namespace["relay"], Starlette)
    if index == 0:
        assert isinstance(namespace["app"], Starlette)


@pytest.mark.anyio
async def test_the_documented_hook() -> None:
    namespace: dict[str, Any] = {}
    exec(compile(_snippets()[1], "hook", "exec"), namespace)
    authenticate = namespace["authenticate"]

    class Connection:
        def __init__(self, cookie: str) -> None:
            self.cookies = {"session": cookie}

    def request(cookie: str) -> AuthRequest:
        return AuthRequest(Connection(cookie), None)  # type: ignore[arg-type]

    alice = await authenticate(request("cookie-value-of-alice"))
    assert alice == Identity("alice", models=frozenset({"gpt-realtime-mini"}))
    assert await authenticate(request("nothing")) is None
    namespace["SESSIONS"]["cookie-of-mallory"] = "mallory"
    with pytest.raises(AuthRefused):
        await authenticate(request("cookie-of-mallory"))
