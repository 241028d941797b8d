"""console=True serves agent_rt.console's static files at / when that package is there, and the
relay works without it."""

from __future__ import annotations

import sys
import types
from pathlib import Path

import httpx
import pytest

from agent_rt.relay import create_relay_app

from .helpers import peer, running

pytestmark = pytest.mark.anyio
TOKEN = "relay-token-console"


@pytest.fixture(autouse=True)
def _no_upstream_key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)


async def test_console_files_are_served_next_to_the_relay(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "index.html").write_text("<title>console</title>", encoding="utf-8")
    (tmp_path / "app.js").write_text("export {};", encoding="utf-8")
    console = types.ModuleType("agent_rt.console")
    console.static_dir = lambda: tmp_path  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "agent_rt.console", console)
    with running(create_relay_app(tokens=[TOKEN], console=True)) as relay:
        async with httpx.AsyncClient() as http:
            page = await http.get(relay.http + "/")
            script = await http.get(relay.http + "/app.js")
            health = await http.get(relay.http + "/healthz")
        async with peer(relay.url, token=TOKEN) as client:
            await client.until("session.created")
    assert (page.status_code, page.text) == (200, "<title>console</title>")
    assert script.status_code == 200
    assert health.status_code == 200


async def test_without_the_console_package_the_relay_still_runs(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "agent_rt.console", None)  # as if not installed: ImportError
    with running(create_relay_app(tokens=[TOKEN], console=True)) as relay:
        async with httpx.AsyncClient() as http:
            page = await http.get(relay.http + "/")
        async with peer(relay.url, token=TOKEN) as client:
            await client.until("session.created")
    assert page.status_code == 404
