"""The pure parts: the mcpServers configuration and the conversion of MCP results."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from agent_rt._secrets import redact
from agent_rt.mcp import (
    McpConfigError,
    describe_tool,
    function_name,
    load_mcp_config,
    parse_mcp_config,
    result_error_text,
    result_value,
)


def test_the_common_format_with_both_transports(tmp_path: Path) -> None:
    path = tmp_path / "mcp.json"
    path.write_text(
        json.dumps(
            {
                "mcpServers": {
                    "calc": {"command": "python", "args": ["server.py"], "cwd": "tools", "type": "stdio"},
                    "web": {
                        "url": "http://127.0.0.1:9000/mcp",
                        "headers": {"Authorization": "Bearer tok-12345"},
                    },
                    "off": {"command": "x", "disabled": True},
                    "gh": {"command": "gh-mcp", "prefix": "gh_", "timeout": 5},
                }
            }
        )
    )
    calc, web, gh = load_mcp_config(path)
    assert (calc.name, calc.transport, calc.command, calc.args) == ("calc", "stdio", "python", ("server.py",))
    assert calc.cwd == str(tmp_path / "tools")  # relative to the config file
    assert (web.transport, web.url) == ("http", "http://127.0.0.1:9000/mcp")
    assert "tok-12345" not in repr(web)
    assert redact("sent tok-12345") == "sent ***"  # header values are registered as secrets
    assert (gh.prefix, gh.timeout) == ("gh_", 5.0)


def test_the_environment_variable_names_the_file(tmp_path: Path, monkeypatch: Any) -> None:
    monkeypatch.delenv("AGENT_RT_MCP_CONFIG", raising=False)
    assert load_mcp_config(None) == []
    path = tmp_path / "servers.json"
    path.write_text('{"mcpServers": {"calc": {"command": "calc-mcp"}}}')
    monkeypatch.setenv("AGENT_RT_MCP_CONFIG", str(path))
    assert [c.name for c in load_mcp_config(None)] == ["calc"]


def test_a_dict_without_the_mcpServers_key_is_the_servers_themselves() -> None:
    assert [c.name for c in parse_mcp_config({"a": {"url": "https://x.example/mcp"}})] == ["a"]


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ([], "must be a JSON object"),
        ({"mcpServers": []}, "'mcpServers' must be an object"),
        ({"mcpServers": {"a b": {"command": "x"}}}, "server name 'a b'"),
        ({"mcpServers": {"a": {}}}, "either 'command' (stdio) or 'url'"),
        ({"mcpServers": {"a": {"command": "x", "url": "http://y"}}}, "either 'command'"),
        ({"mcpServers": {"a": {"command": "x", "args": "y"}}}, "'args' must be a list of strings"),
        ({"mcpServers": {"a": {"command": "x", "env": {"K": 1}}}}, "'env' must be an object"),
        ({"mcpServers": {"a": {"command": "x", "headers": {}}}}, "'headers' goes with 'url'"),
        ({"mcpServers": {"a": {"url": "ftp://y"}}}, "http:// or https://"),
        ({"mcpServers": {"a": {"url": "http://y", "cwd": "z"}}}, "'cwd' goes with 'command'"),
        ({"mcpServers": {"a": {"command": "x", "prefix": "bad prefix"}}}, "'prefix'"),
        ({"mcpServers": {"a": {"command": "x", "timeout": 0}}}, "'timeout'"),
        ({"mcpServers": {"a": {"command": "x", "bogus": 1}}}, "unknown key(s) 'bogus'"),
    ],
)
def test_bad_configurations_name_the_server_and_the_problem(raw: Any, message: str) -> None:
    with pytest.raises(McpConfigError) as info:
        parse_mcp_config(raw)
    assert message in str(info.value)


def test_unreadable_and_invalid_files(tmp_path: Path) -> None:
    with pytest.raises(McpConfigError, match="cannot read MCP config"):
        load_mcp_config(tmp_path / "missing.json")
    bad = tmp_path / "bad.json"
    bad.write_text("{nope")
    with pytest.raises(McpConfigError, match="not valid JSON"):
        load_mcp_config(bad)


def test_function_names_and_descriptions() -> None:
    assert function_name("", "add") == "add"
    assert function_name("gh_", "repos.list/all") == "gh_repos_list_all"
    assert len(function_name("", "x" * 100)) == 64
    assert describe_tool({"name": "a", "description": " Adds. "}, "s") == "Adds."
    assert describe_tool({"name": "a", "title": "Adder"}, "s") == "Adder"
    assert describe_tool({"name": "a", "annotations": {"title": "Annotated"}}, "s") == "Annotated"
    assert describe_tool({"name": "get_weather"}, "w") == "get weather (a tool of the MCP server 'w')"


def test_result_values() -> None:
    text = {"type": "text", "text": "5"}
    assert result_value({"content": [text], "structuredContent": {"result": 5}}) == 5
    assert result_value({"content": [{"type": "text", "text": "plain words"}]}) == "plain words"
    assert result_value({"content": [], "structuredContent": {"rows": [1, 2]}}) == {"rows": [1, 2]}
    two = [{"type": "text", "text": "a"}, {"type": "text", "text": "b"}]
    assert result_value({"content": two}) == "a\nb"
    assert result_value({"content": two, "structuredContent": {"k": 1}}) == {"k": 1}
    assert result_value({"content": []}) is None
    mixed = [
        {"type": "text", "text": "see"},
        {"type": "image", "data": "aGVsbG8=", "mimeType": "image/png"},
        {"type": "resource", "resource": {"uri": "file:///a.txt", "mimeType": "text/plain", "text": "hi"}},
        {"type": "resource", "resource": {"uri": "file:///b.bin", "blob": "AAEC"}},
        {"type": "resource_link", "uri": "file:///c", "name": "c", "description": "the c file"},
        {"type": "audio", "data": "not base64!", "mimeType": "audio/wav"},
    ]
    assert result_value({"content": mixed}) == [
        "see",
        {"type": "image", "mime_type": "image/png", "bytes": 5},
        {"type": "resource", "uri": "file:///a.txt", "mime_type": "text/plain", "text": "hi"},
        {"type": "resource", "uri": "file:///b.bin", "bytes": 3},
        {"type": "resource_link", "uri": "file:///c", "name": "c", "description": "the c file"},
        {"type": "audio", "mime_type": "audio/wav", "bytes": None},
    ]


def test_error_texts() -> None:
    assert result_error_text({"content": [{"type": "text", "text": "boom"}], "isError": True}) == "boom"
    assert result_error_text({"content": [], "structuredContent": {"code": 7}}) == '{"code": 7}'
    assert "image" in result_error_text({"content": [{"type": "image", "data": "", "mimeType": "x"}]})
    assert result_error_text({"content": []}) == "the tool reported an error without a message"
