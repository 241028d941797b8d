"""The console in headless Chromium against the local server, paced like the service.

Each test drives the page the way a user does (buttons, the text box, a fake microphone playing a
speech-like WAV) and checks both what the page shows and what went over the wire.
"""

from __future__ import annotations

import json
import os
import re
import shutil
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import anyio.from_thread
import pytest
from playwright.sync_api import Browser, Locator, Page, Playwright, expect

from agent_rt.console.scenario import CONSOLE_SCENARIO
from agent_rt.server import LocalRealtimeServer

from .conftest import ConsoleServer, launch, relay_console
from .speech import speech_then_silence

pytestmark = [pytest.mark.browser, pytest.mark.timeout(120)]

SPEECH_TIMEOUT_MS = 20_000
DOCS_IMAGE = Path(__file__).resolve().parents[2] / "docs" / "images" / "console.png"


def open_console(browser: Browser, url: str) -> Page:
    page = browser.new_page()
    page.goto(url)
    expect(page.get_by_test_id("status")).to_have_text("offline")
    return page


def connect(page: Page) -> None:
    page.get_by_test_id("connect").click()
    expect(page.get_by_test_id("status")).to_have_text(re.compile(r"^connected$"))


def events(page: Page, event_type: str, direction: str) -> Locator:
    return page.get_by_test_id("event-log").locator(
        f'li[data-type="{event_type}"][data-direction="{direction}"]'
    )


def wait_for_session(page: Page, condition: str) -> None:
    """Wait until the latest ``session.updated`` satisfies ``condition`` (JS over ``session``).

    The relay sends a session.update of its own (its tools), so counting updates would race.
    """
    page.wait_for_function(
        f"""() => {{
          const updates = window.agentConsole.inspector.entries.filter(
            (e) => e.direction === "server" && e.event.type === "session.updated");
          const session = updates.length ? updates[updates.length - 1].event.session : null;
          return session !== null && ({condition});
        }}"""
    )


def conversation(page: Page, role: str) -> Locator:
    return page.get_by_test_id("conversation").locator(f'li[data-role="{role}"]')


def exported(page: Page) -> list[dict[str, Any]]:
    lines = page.evaluate("window.agentConsole.inspector.exportLines()").splitlines()
    return [json.loads(line) for line in lines]


@pytest.fixture
def page(browser: Browser, console_server: ConsoleServer) -> Iterator[Page]:
    page = open_console(browser, console_server.url)
    yield page
    page.close()


def test_connect_sends_the_session_panel_as_session_update(page: Page, console_server: ConsoleServer) -> None:
    connect(page)
    expect(events(page, "session.created", "server")).to_have_count(1)
    wait_for_session(page, 'session.audio.output.voice === "marin"')
    update = next(e["event"] for e in exported(page) if e["event"]["type"] == "session.update")
    session = update["session"]
    assert session["type"] == "realtime"
    assert session["audio"]["input"]["turn_detection"] == {"type": "server_vad"}
    assert session["audio"]["input"]["transcription"] == {"model": "whisper-1"}
    assert session["audio"]["output"]["voice"] == "marin"
    info = console_server.upstream.connections[0]
    assert info.dialect == "ga"
    assert info.session.config.voice == "marin"  # the server took the update
    expect(events(page, "error", "server")).to_have_count(0)


def test_typed_message_gets_a_spoken_answer_with_its_transcript(page: Page) -> None:
    connect(page)
    page.get_by_test_id("text-input").fill("Hello there")
    page.get_by_test_id("send").click()
    expect(conversation(page, "user")).to_have_text(["Hello there"])
    expect(events(page, "response.done", "server")).to_have_count(1, timeout=SPEECH_TIMEOUT_MS)
    expect(conversation(page, "assistant")).to_have_text(
        ["Hi! I'm the local stand-in model. Ask me the time, or some maths."]
    )
    deltas = events(page, "response.output_audio.delta", "server")
    assert deltas.count() > 3
    log = exported(page)
    audio = [e for e in log if e["event"]["type"] == "response.output_audio.delta"]
    assert all(e["event"]["delta"].startswith("<audio: ") for e in audio)  # elided in the log
    # Paced like the service: the deltas span (nearly) the audio's duration, not one burst.
    first, last = (datetime.fromisoformat(audio[i]["time"].replace("Z", "+00:00")) for i in (0, -1))
    assert (last - first).total_seconds() > 2.0  # 65 characters of speech are 3.9 s of audio
    played = page.evaluate("window.agentConsole.player.progress")
    assert played["played"] > 0


def test_disconnect_closes_the_session_upstream(page: Page, console_server: ConsoleServer) -> None:
    connect(page)
    page.get_by_test_id("connect").click()  # the same button disconnects
    expect(page.get_by_test_id("status")).to_have_text(re.compile(r"^closed"))
    expect(page.get_by_test_id("connect")).to_have_text("Connect")
    expect(page.get_by_test_id("send")).to_be_disabled()
    info = console_server.upstream.connections[0]
    console_server.wait_closed(info)
    assert info.close_code == 1000
    connect(page)  # and connects again
    assert len(console_server.upstream.connections) == 2


def test_speech_from_the_microphone_is_detected_and_answered(
    playwright: Playwright, console_server: ConsoleServer, tmp_path: Path
) -> None:
    wav = speech_then_silence(tmp_path / "speech.wav", speech_s=1.0, silence_s=8.0)
    with launch(playwright, wav) as browser:
        page = open_console(browser, console_server.url)
        connect(page)
        page.get_by_test_id("mic").click()
        expect(page.get_by_test_id("mic")).to_have_attribute("aria-pressed", "true")
        expect(events(page, "input_audio_buffer.speech_started", "server").first).to_be_attached(
            timeout=SPEECH_TIMEOUT_MS
        )
        expect(events(page, "input_audio_buffer.speech_stopped", "server").first).to_be_attached(
            timeout=SPEECH_TIMEOUT_MS
        )
        expect(conversation(page, "assistant").first).to_contain_text("I heard", timeout=SPEECH_TIMEOUT_MS)
        # The user's turn carries the transcript of the audio (whisper-1 is on by default).
        expect(conversation(page, "user").first).to_have_text(re.compile(r"s of audio"))
        appends = events(page, "input_audio_buffer.append", "client")
        assert appends.count() > 10
        frame = next(e["event"] for e in exported(page) if e["event"]["type"] == "input_audio_buffer.append")
        assert frame["audio"] == "<audio: 1920 bytes elided>"  # 40 ms of 24 kHz PCM16
        speech = console_server.upstream.connections[0].session
        assert speech.config.turn_detection is not None


@pytest.mark.parametrize("server_interrupts", [True, False], ids=["server-cancels", "page-cancels"])
def test_barge_in_stops_playback_and_truncates_to_what_was_heard(
    playwright: Playwright, console_server: ConsoleServer, tmp_path: Path, server_interrupts: bool
) -> None:
    # Speech, then silence while the (long) answer plays, then speech again: the user interrupts.
    wav = speech_then_silence(tmp_path / "barge.wav", speech_s=0.8, silence_s=2.7)
    with launch(playwright, wav) as browser:
        page = open_console(browser, console_server.url)
        connect(page)
        if not server_interrupts:  # a server VAD that leaves cancelling to the client
            vad = {"type": "server_vad", "interrupt_response": False}
            update = {
                "type": "session.update",
                "session": {"type": "realtime", "audio": {"input": {"turn_detection": vad}}},
            }
            page.evaluate("(event) => window.agentConsole.connection.send(event)", update)
            wait_for_session(page, "session.audio.input.turn_detection?.interrupt_response === false")
        page.get_by_test_id("mic").click()
        truncate = events(page, "conversation.item.truncate", "client")
        expect(truncate.first).to_be_attached(timeout=SPEECH_TIMEOUT_MS)
        expect(events(page, "conversation.item.truncated", "server").first).to_be_attached()
        state = page.evaluate("window.agentConsole.state.truncations[0]")
        log = exported(page)
    sent = next(e for e in log if e["event"]["type"] == "conversation.item.truncate")
    item_id = sent["event"]["item_id"]
    audio_end_ms = sent["event"]["audio_end_ms"]
    played_ms = state["played"] * 1000 / 24000
    delivered_ms = state["deliveredSamples"] * 1000 / 24000
    assert state["itemId"] == item_id
    assert 0 < audio_end_ms <= played_ms  # never more than what was played
    assert audio_end_ms <= delivered_ms  # nothing is heard before it arrives (the response was cut: below)
    # Playback cannot run ahead of the clock: nothing of the item could be heard before its first delta.

    def when(entry: dict[str, Any]) -> datetime:
        return datetime.fromisoformat(entry["time"].replace("Z", "+00:00"))

    first_delta = next(
        e
        for e in log
        if e["event"]["type"] == "response.output_audio.delta" and e["event"]["item_id"] == item_id
    )
    assert audio_end_ms <= (when(sent) - when(first_delta)).total_seconds() * 1000 + 5
    # The response ended at the barge-in. A server VAD with interrupt_response cancels it itself (the
    # page sends no second response.cancel that would earn an error); otherwise the page cancels it.
    cut = next(i for i, e in enumerate(log) if e["event"]["type"] == "conversation.item.truncate")
    started = max(
        i for i, e in enumerate(log[:cut]) if e["event"]["type"] == "input_audio_buffer.speech_started"
    )
    cancels = [e for e in log[started:cut] if e["event"]["type"] == "response.cancel"]
    assert len(cancels) == (0 if server_interrupts else 1)
    done = next(e["event"] for e in log[started:] if e["event"]["type"] == "response.done")
    assert done["response"]["status"] == "cancelled"
    reason = "turn_detected" if server_interrupts else "client_cancelled"
    assert done["response"]["status_details"]["reason"] == reason
    assert not [e for e in log if e["event"]["type"] == "error"]
    truncated = next(e["event"] for e in log if e["event"]["type"] == "conversation.item.truncated")
    assert truncated["audio_end_ms"] == audio_end_ms


def test_push_to_talk_sends_audio_only_while_held_then_commits(
    playwright: Playwright, console_server: ConsoleServer, tmp_path: Path
) -> None:
    wav = speech_then_silence(tmp_path / "ptt.wav", speech_s=2.0, silence_s=0.5)
    with launch(playwright, wav) as browser:
        page = open_console(browser, console_server.url)
        connect(page)
        page.get_by_test_id("turn-detection").select_option("push_to_talk")
        page.get_by_test_id("apply-session").click()
        wait_for_session(page, "session.audio.input.turn_detection === null")
        ptt = page.get_by_test_id("ptt")
        expect(ptt).to_be_visible()
        ptt.hover()
        page.mouse.down()
        page.wait_for_function(
            "document.querySelectorAll('[data-type=\"input_audio_buffer.append\"]').length >= 25"
        )  # a second of audio
        page.mouse.up()
        expect(events(page, "input_audio_buffer.committed", "server")).to_have_count(1)
        expect(conversation(page, "assistant").first).to_contain_text("I heard", timeout=SPEECH_TIMEOUT_MS)
        log = [(e["direction"], e["event"]["type"]) for e in exported(page)]
        commit = log.index(("client", "input_audio_buffer.commit"))
        assert ("client", "input_audio_buffer.append") not in log[commit:]  # released: nothing more sent
        assert log[commit + 1] == ("client", "response.create")
        assert ("server", "input_audio_buffer.speech_started") not in log  # no server VAD
        update = [e["event"] for e in exported(page) if e["event"]["type"] == "session.update"][-1]
        assert update["session"]["audio"]["input"]["turn_detection"] is None


def test_spoken_typed_and_tool_turns_make_the_docs_screenshot(
    playwright: Playwright, console_server: ConsoleServer, tmp_path: Path
) -> None:
    """The image in docs/console.md: refreshed with ``AGENT_RT_UPDATE_SCREENSHOTS=1``."""
    wav = speech_then_silence(tmp_path / "once.wav", speech_s=1.0, silence_s=30.0)
    with launch(playwright, wav) as browser:
        page = browser.new_page(viewport={"width": 1280, "height": 960}, color_scheme="light")
        page.goto(console_server.url)
        connect(page)
        page.get_by_test_id("mic").click()
        expect(conversation(page, "assistant").first).to_contain_text("I heard", timeout=SPEECH_TIMEOUT_MS)
        expect(conversation(page, "user").first).to_have_text(re.compile(r"s of audio"))
        page.get_by_test_id("mic").click()  # microphone off again
        expect(page.get_by_test_id("mic")).to_have_attribute("aria-pressed", "false")
        page.get_by_test_id("text-input").fill("Hello!")
        page.get_by_test_id("send").click()  # interrupts the spoken answer, as a user would
        expect(conversation(page, "assistant").last).to_have_text(
            "Hi! I'm the local stand-in model. Ask me the time, or some maths.", timeout=SPEECH_TIMEOUT_MS
        )
        expect(conversation(page, "assistant").first).to_have_attribute(
            "data-truncated", re.compile(r"^\d+$")
        )
        page.get_by_test_id("text-input").fill("What time is it in Tokyo?")
        page.get_by_test_id("send").click()
        expect(conversation(page, "tool").locator(".tool-output")).to_contain_text("weekday", timeout=15_000)
        expect(conversation(page, "assistant").last).to_contain_text("In Tokyo it is", timeout=15_000)
        page.locator("details.session > summary").click()  # fold the session panel: room for the turns
        shot = tmp_path / "console.png"
        page.screenshot(path=str(shot))
    assert shot.read_bytes().startswith(b"\x89PNG")
    if os.environ.get("AGENT_RT_UPDATE_SCREENSHOTS"):
        shutil.copyfile(shot, DOCS_IMAGE)


def test_a_relay_token_goes_in_the_browser_subprotocol(browser: Browser) -> None:
    with anyio.from_thread.start_blocking_portal("asyncio") as portal:
        upstream = LocalRealtimeServer(scenario=CONSOLE_SCENARIO)
        with (
            portal.wrap_async_context_manager(upstream),
            portal.wrap_async_context_manager(relay_console(upstream.url, tokens=["s3cret-token"])) as url,
        ):
            page = open_console(browser, url)
            page.get_by_test_id("connect").click()  # no token: refused at the handshake
            expect(page.get_by_test_id("status")).to_have_text(re.compile(r"^closed \(1006"))
            assert upstream.connections == []
            page.locator("#token").fill("s3cret-token")
            connect(page)
            assert len(upstream.connections) == 1
            assert "s3cret-token" not in page.evaluate("window.agentConsole.inspector.exportLines()")
            headers = upstream.connections[0].headers
            assert not any("s3cret-token" in value for value in headers.values())  # not sent upstream


def test_the_beta_shape_works_end_to_end(page: Page, console_server: ConsoleServer) -> None:
    page.locator("#beta").check()
    connect(page)
    wait_for_session(page, 'session.voice === "marin"')
    assert console_server.upstream.connections[0].dialect == "beta"
    update = next(e["event"] for e in exported(page) if e["event"]["type"] == "session.update")
    assert update["session"]["turn_detection"] == {"type": "server_vad"}
    assert update["session"]["input_audio_transcription"] == {"model": "whisper-1"}
    page.get_by_test_id("text-input").fill("Hello")
    page.get_by_test_id("send").click()
    expect(conversation(page, "user")).to_have_text(["Hello"])  # from conversation.item.created
    expect(conversation(page, "assistant")).to_have_text(  # from response.audio_transcript.delta
        ["Hi! I'm the local stand-in model. Ask me the time, or some maths."], timeout=SPEECH_TIMEOUT_MS
    )
    expect(events(page, "response.audio.delta", "server").first).to_be_attached()
    expect(events(page, "error", "server")).to_have_count(0)


def test_a_server_error_is_shown_without_changing_the_status(page: Page) -> None:
    connect(page)
    page.evaluate("window.agentConsole.connection.send({type: 'conversation.item.delete', item_id: 'nope'})")
    expect(events(page, "error", "server")).to_have_count(1)
    expect(page.get_by_test_id("notice")).to_contain_text("Server error:")
    expect(page.get_by_test_id("notice")).to_contain_text("nope")
    expect(page.get_by_test_id("status")).to_have_text("connected")


def test_many_typed_turns_each_interrupting_the_last_answer(page: Page) -> None:
    connect(page)
    turns = 6
    for turn in range(turns):
        page.get_by_test_id("text-input").fill(f"Turn number {turn}")
        page.get_by_test_id("send").click()
        expect(conversation(page, "assistant")).to_have_count(turn + 1, timeout=SPEECH_TIMEOUT_MS)
        page.wait_for_function(  # some of this answer has been heard before the next message cuts in
            """(n) => {
              const items = document.querySelectorAll('[data-testid=conversation] li[data-role=assistant]');
              const progress = window.agentConsole.player.progress;
              const last = items[n - 1];
              return items.length === n && progress.itemId === last?.dataset.itemId && progress.played > 0;
            }""",
            arg=turn + 1,
        )
    expect(events(page, "response.done", "server")).to_have_count(turns, timeout=SPEECH_TIMEOUT_MS)
    users = conversation(page, "user")
    expect(users).to_have_text([f"Turn number {turn}" for turn in range(turns)])
    assistants = conversation(page, "assistant")
    for turn in range(turns):
        expect(assistants.nth(turn)).to_contain_text("I heard")  # "I heard Turn number N..."
    truncates = events(page, "conversation.item.truncate", "client")
    expect(events(page, "conversation.item.truncated", "server")).to_have_count(truncates.count())
    assert truncates.count() == turns - 1  # every answer but the last was cut by the next message
    assert events(page, "error", "server").count() == 0


def test_the_inspector_filters_expands_and_exports(page: Page) -> None:
    connect(page)
    page.get_by_test_id("text-input").fill("Hello")
    page.get_by_test_id("send").click()
    expect(events(page, "response.output_audio.delta", "server").first).to_be_attached(
        timeout=SPEECH_TIMEOUT_MS
    )
    log = page.get_by_test_id("event-log")
    page.locator("#event-filter").fill("session.")
    visible = log.locator("li:visible")
    expect(visible.first).to_be_visible()
    for kind in visible.evaluate_all("(rows) => rows.map((row) => row.dataset.type)"):
        assert kind.startswith("session.")
    page.locator("#event-direction").select_option("client")
    expect(visible).to_have_count(1)
    expect(visible.first).to_have_attribute("data-type", "session.update")
    page.locator("#event-filter").fill("audio.delta")
    page.locator("#event-direction").select_option("server")
    row = visible.first
    row.locator("summary").click()  # expand: the JSON, with the audio elided
    expect(row.locator("pre")).to_contain_text('"type": "response.output_audio.delta"')
    expect(row.locator("pre")).to_contain_text("bytes elided>")
    with page.expect_download() as download:
        page.get_by_test_id("export").click()
    path = download.value.path()
    lines = Path(path).read_text(encoding="utf-8").splitlines()
    assert download.value.suggested_filename.endswith(".jsonl")
    first = [(e["direction"], e["event"]["type"]) for e in map(json.loads, lines[:2])]
    assert sorted(first) == [("client", "session.update"), ("server", "session.created")]
    assert all("bytes elided>" in line for line in lines if '"response.output_audio.delta"' in line)


def test_a_plugin_tool_call_is_shown_with_its_output(page: Page, console_server: ConsoleServer) -> None:
    page.get_by_test_id("connect").click()
    expect(page.get_by_test_id("status")).to_have_text(re.compile(r"^connected$"))
    page.get_by_test_id("text-input").fill("What time is it in Tokyo?")
    page.get_by_test_id("send").click()
    tool = page.get_by_test_id("conversation").locator('li[data-role="tool"]')
    expect(tool).to_have_count(1, timeout=15_000)
    expect(tool).to_contain_text('get_time({"timezone": "Asia/Tokyo"})')
    output = tool.locator(".tool-output")
    expect(output).to_contain_text('"timezone": "Asia/Tokyo"', timeout=15_000)  # the plugin's answer
    expect(output).to_contain_text('"weekday"')
    assistant = page.get_by_test_id("conversation").locator('li[data-role="assistant"]')
    expect(assistant.last).to_contain_text("In Tokyo it is", timeout=15_000)
    lines = page.evaluate("window.agentConsole.inspector.exportLines()").splitlines()
    log = [(e["direction"], e["event"]) for e in map(json.loads, lines)]
    # The relay answered: the page sent no function_call_output, the server echoed the relay's one.
    outputs = [
        direction
        for direction, event in log
        if event["type"] in ("conversation.item.create", "conversation.item.added")
        and event["item"]["type"] == "function_call_output"
    ]
    assert outputs == ["server"]
    assert not [event for _, event in log if event["type"] == "error"]
    created = [
        event for direction, event in log if direction == "client" and event["type"] == "response.create"
    ]
    assert len(created) == 1  # the follow-up response.create came from the relay, not the page


def test_a_message_sent_while_connecting_goes_out_once_open(page: Page) -> None:
    page.get_by_test_id("connect").click()
    page.get_by_test_id("text-input").fill("Hello early")  # no wait for "connected"
    page.get_by_test_id("send").click()
    expect(conversation(page, "user")).to_have_text(["Hello early"])
    expect(conversation(page, "assistant")).to_have_count(1, timeout=SPEECH_TIMEOUT_MS)
    sent = [e["event"]["type"] for e in exported(page) if e["direction"] == "client"]
    assert sent[:3] == ["session.update", "conversation.item.create", "response.create"]


def test_the_page_works_from_the_keyboard_with_visible_focus(page: Page) -> None:
    page.keyboard.press("Tab")  # the skip link comes first
    expect(page.locator("a.skip")).to_be_focused()
    page.get_by_test_id("connect").focus()
    page.keyboard.press("Enter")
    expect(page.get_by_test_id("status")).to_have_text("connected")
    page.get_by_test_id("text-input").focus()
    page.keyboard.type("Hello")
    page.keyboard.press("Enter")  # Enter sends
    expect(conversation(page, "user")).to_have_text(["Hello"])
    page.keyboard.press("Tab")
    expect(page.get_by_test_id("send")).to_be_focused()
    outline = page.get_by_test_id("send").evaluate("(el) => getComputedStyle(el).outlineStyle")
    assert outline == "solid"  # :focus-visible draws an outline
    labels = page.evaluate(
        """() => [...document.querySelectorAll('input, select, textarea')]
              .filter((el) => !el.labels || el.labels.length === 0).map((el) => el.id)"""
    )
    assert labels == []  # every control has a label
