"""The console's files as shipped: complete, self-contained (no CDN), with the DOM contract."""

from __future__ import annotations

import re
from html.parser import HTMLParser

from agent_rt.console import static_dir

CONTRACT = {"connect", "status", "text-input", "send", "mic", "conversation", "event-log"}
MODULES = {"app.js", "connection.js", "mic.js", "mic-worklet.js", "player.js", "player-worklet.js",
           "playback-queue.js", "pcm.js", "conversation.js", "inspector.js", "waveform.js"}  # fmt: skip


class _Collect(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.testids: dict[str, str] = {}
        self.links: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = dict(attrs)
        if values.get("data-testid"):
            self.testids[str(values["data-testid"])] = tag
        for key in ("src", "href"):
            if values.get(key):
                self.links.append(str(values[key]))


def test_the_static_folder_holds_the_page_and_its_modules() -> None:
    names = {path.name for path in static_dir().iterdir()}
    assert {"index.html", "console.css"} | MODULES <= names


def test_the_page_has_the_contract_elements() -> None:
    page = _Collect()
    page.feed((static_dir() / "index.html").read_text(encoding="utf-8"))
    assert set(page.testids) >= CONTRACT
    assert page.testids["connect"] == "button"
    assert page.testids["send"] == "button"
    assert page.testids["mic"] == "button"


def test_everything_the_files_load_is_local() -> None:
    page = _Collect()
    page.feed((static_dir() / "index.html").read_text(encoding="utf-8"))
    for link in page.links:
        if link.startswith(("#", "data:")):
            continue
        assert (static_dir() / link).is_file(), link
    for path in static_dir().iterdir():
        text = path.read_text(encoding="utf-8")
        assert not re.search(r"https?://", text), f"{path.name} refers to another origin"
        for target in re.findall(r"""(?:from\s+|import\(\s*|new URL\(\s*)["'](\./[^"']+)["']""", text):
            assert (static_dir() / target[2:]).is_file(), f"{path.name} imports {target}"
