"""Unit tests of the console's pure JS modules, run in headless Chromium."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from playwright.sync_api import Browser, Page

pytestmark = pytest.mark.browser


@pytest.fixture
def page(browser: Browser, static_url: str) -> Iterator[Page]:
    page = browser.new_page()
    page.goto(static_url + "pcm.js")  # any page of the origin: the modules are imported from it
    yield page
    page.close()


def run(page: Page, body: str) -> Any:
    """Evaluate ``body`` (an async function body that may ``await load("x.js")``) and return its result."""
    return page.evaluate(f"async () => {{ const load = (name) => import('/' + name); {body} }}")


def test_resampler_48k_to_24k_keeps_the_tone_and_is_the_same_in_chunks(page: Page) -> None:
    result = run(
        page,
        """
        const { Resampler } = await load("pcm.js");
        const sine = (_, i) => 0.5 * Math.sin((2 * Math.PI * 440 * i) / 48000);
        const input = Float32Array.from({ length: 48000 }, sine);
        const whole = new Resampler(48000, 24000).process(input);
        const chunked = new Resampler(48000, 24000);
        const parts = [];
        for (let i = 0; i < input.length; i += 128) {
          parts.push(...chunked.process(input.subarray(i, i + 128)));
        }
        let crossings = 0;
        for (let i = 1; i < whole.length; i += 1) if (whole[i - 1] < 0 && whole[i] >= 0) crossings += 1;
        let diff = 0;
        for (let i = 0; i < whole.length; i += 1) diff = Math.max(diff, Math.abs(whole[i] - parts[i]));
        const peak = Math.max(...whole.slice(100));
        return { length: whole.length, chunked: parts.length, crossings, diff, peak };
        """,
    )
    assert result["length"] == 24000
    assert result["chunked"] == 24000
    assert result["diff"] < 1e-6
    assert 439 <= result["crossings"] <= 441  # 440 Hz for one second
    assert 0.45 < result["peak"] <= 0.5  # the low-pass barely touches 440 Hz


def test_resampler_44100_gives_24k_a_second_and_damps_aliases(page: Page) -> None:
    result = run(
        page,
        """
        const { Resampler } = await load("pcm.js");
        const count = (rate, freq) => {
          const r = new Resampler(rate, 24000);
          let n = 0, energy = 0;
          for (let start = 0; start < 441 * 100; start += 441) {
            const at = (_, i) => Math.sin((2 * Math.PI * freq * (start + i)) / rate);
            const chunk = Float32Array.from({ length: 441 }, at);
            const out = r.process(chunk);
            n += out.length;
            for (const v of out) energy += v * v;
          }
          return { n, rms: Math.sqrt(energy / n) };
        };
        return { low: count(44100, 300), high: count(44100, 20000), same: count(24000, 1000) };
        """,
    )
    assert abs(result["low"]["n"] - 44100 * 24000 / 44100) <= 1  # 44100 inputs -> 24000 outputs
    assert result["same"]["n"] == 44100  # same rate: one output per input
    assert result["low"]["rms"] > 0.65  # a 300 Hz tone passes (sine RMS 0.707)
    assert result["high"]["rms"] < result["low"]["rms"] * 0.35  # 20 kHz would alias: damped


def test_pcm16_conversion_clips_and_round_trips_through_base64(page: Page) -> None:
    result = run(
        page,
        """
        const { floatToPcm16, pcm16ToBase64, base64ToPcm16, FrameChunker } = await load("pcm.js");
        const pcm = floatToPcm16(Float32Array.from([0, 1, -1, 2, -2, 0.5, -0.5]));
        const back = Array.from(base64ToPcm16(pcm16ToBase64(pcm)));
        const chunker = new FrameChunker(960);
        const push = (n) => chunker.push(new Int16Array(n)).map((f) => f.length);
        const sizes = [500, 500, 1000, 2000].flatMap(push);
        const b64 = pcm16ToBase64(Int16Array.from([1, -2]));
        return { pcm: Array.from(pcm), back, sizes, left: chunker.used, b64 };
        """,
    )
    assert result["pcm"] == [0, 32767, -32768, 32767, -32768, 16384, -16384]
    assert result["back"] == result["pcm"]
    assert result["sizes"] == [960, 960, 960, 960]
    assert result["left"] == 4000 - 4 * 960
    assert result["b64"] == "AQD+/w=="  # little endian: 01 00 fe ff


def test_playback_queue_counts_only_the_samples_it_played(page: Page) -> None:
    result = run(
        page,
        """
        const { PlaybackQueue } = await load("playback-queue.js");
        const q = new PlaybackQueue();
        q.push("a", 0, new Float32Array(300).fill(0.5));
        q.push("b", 0, new Float32Array(200).fill(0.25));
        const out = new Float32Array(128);
        const steps = [];
        for (let i = 0; i < 3; i += 1) {
          steps.push([q.render(out), q.playedFor("a"), q.playedFor("b"), q.queued]);
        }
        const lastOut = Array.from(out.slice(40, 48));
        const stopped = q.stop();
        const after = [q.render(out), q.queued, Array.from(out.slice(0, 4))];
        const idle = new PlaybackQueue().stop();
        return { steps, lastOut, stopped, after, idle };
        """,
    )
    assert result["steps"] == [[128, 128, 0, 372], [128, 256, 0, 244], [128, 300, 84, 116]]
    assert result["lastOut"] == [0.5] * 4 + [0.25] * 4  # item a ends at sample 300 = 2 * 128 + 44
    assert result["stopped"] == {"itemId": "b", "contentIndex": 0, "played": 84, "dropped": 116}
    assert result["after"] == [0, 0, [0, 0, 0, 0]]  # silence once stopped
    assert result["idle"] is None


def test_playback_queue_stop_after_the_end_names_the_finished_item(page: Page) -> None:
    result = run(
        page,
        """
        const { PlaybackQueue } = await load("playback-queue.js");
        const q = new PlaybackQueue();
        q.push("a", 1, new Float32Array(100));
        q.render(new Float32Array(128));
        return q.stop();
        """,
    )
    assert result == {"itemId": "a", "contentIndex": 1, "played": 100, "dropped": 0}


def test_conversation_reducer_builds_items_like_realtime_conversation(page: Page) -> None:
    result = run(
        page,
        """
        const { emptyConversation, reduce, visibleItems, displayText } = await load("conversation.js");
        const events = [
          { type: "conversation.item.added", previous_item_id: null,
            item: { id: "u1", type: "message", role: "user",
                    content: [{ type: "input_text", text: "hi" }] } },
          { type: "response.output_item.added",
            item: { id: "a1", type: "message", role: "assistant", content: [] } },
          { type: "conversation.item.added", previous_item_id: "u1",
            item: { id: "a1", type: "message", role: "assistant", content: [] } },
          { type: "response.output_audio_transcript.delta", item_id: "a1", delta: "Hel" },
          { type: "response.audio_transcript.delta", item_id: "a1", delta: "lo" },
          { type: "conversation.item.truncated", item_id: "a1", content_index: 0, audio_end_ms: 120 },
          { type: "conversation.item.done", item: { id: "a1", type: "message", role: "assistant",
            content: [{ type: "output_audio", transcript: "" }] } },
          { type: "conversation.item.created", previous_item_id: null,
            item: { id: "s0", type: "message", role: "system",
                    content: [{ type: "input_text", text: "be brief" }] } },
          { type: "response.output_item.added",
            item: { id: "f1", type: "function_call", name: "get_time", call_id: "c1", arguments: "" } },
          { type: "response.function_call_arguments.delta", item_id: "f1", delta: "{\\"timezone\\":" },
          { type: "response.function_call_arguments.delta", item_id: "f1", delta: "\\"UTC\\"}" },
          { type: "conversation.item.added", previous_item_id: "f1",
            item: { id: "o1", type: "function_call_output", call_id: "c1",
                    output: "{\\"time\\":\\"12:00\\"}" } },
          { type: "conversation.item.added",
            item: { id: "u2", type: "message", role: "user", content: [{ type: "input_audio" }] } },
          { type: "conversation.item.input_audio_transcription.delta", item_id: "u2", delta: "what" },
          { type: "conversation.item.input_audio_transcription.completed",
            item_id: "u2", transcript: "what time" },
          { type: "response.output_text.delta", item_id: "nope", delta: "ignored" },
          { type: "conversation.item.deleted", item_id: "s0" },
        ];
        let state = emptyConversation();
        const frozen = JSON.stringify(state);
        const start = state;
        for (const event of events) state = reduce(state, event);
        return {
          untouched: JSON.stringify(start) === frozen,
          order: state.order,
          shown: visibleItems(state).map((i) =>
            [i.id, i.role, displayText(i), i.arguments ?? null, i.output ?? null]),
          truncated: [state.items.a1.truncated, state.items.a1.audioEndMs],
        };
        """,
    )
    assert result["untouched"]  # pure: the start state is not modified
    assert result["order"] == ["u1", "a1", "f1", "o1", "u2"]
    assert result["shown"] == [
        ["u1", "user", "hi", None, None],
        ["a1", "assistant", "Hello", None, None],  # kept after truncation cleared the server's copy
        ["f1", "tool", "", '{"timezone":"UTC"}', '{"time":"12:00"}'],  # output folded into its call
        ["u2", "user", "what time", None, None],
    ]
    assert result["truncated"] == [True, 120]


def test_inspector_elides_audio_and_exports_json_lines(page: Page) -> None:
    result = run(
        page,
        """
        const { Inspector, elide } = await load("inspector.js");
        const list = document.createElement("ol");
        document.body.append(list);
        const inspector = new Inspector(list);
        inspector.log("client", { type: "input_audio_buffer.append", audio: "AAAAAAAA" });
        inspector.log("server", { type: "response.output_audio.delta", item_id: "a", delta: "AAAA" });
        inspector.log("server", { type: "conversation.item.retrieved",
          item: { id: "x", content: [{ type: "audio", audio: "AAAA", transcript: "hi" }] } });
        const rows = Array.from(list.children).map((li) => [li.dataset.type, li.dataset.direction]);
        const lines = inspector.exportLines().split("\\n").map((l) => JSON.parse(l));
        const original = { type: "response.audio.delta", delta: "AAAA" };
        elide(original);
        return { rows, lines, original };
        """,
    )
    assert result["rows"] == [
        ["input_audio_buffer.append", "client"],
        ["response.output_audio.delta", "server"],
        ["conversation.item.retrieved", "server"],
    ]
    lines = result["lines"]
    assert [line["direction"] for line in lines] == ["client", "server", "server"]
    assert lines[0]["event"]["audio"] == "<audio: 6 bytes elided>"
    assert lines[1]["event"]["delta"] == "<audio: 3 bytes elided>"
    assert lines[2]["event"]["item"]["content"][0] == {
        "type": "audio",
        "audio": "<audio: 3 bytes elided>",
        "transcript": "hi",
    }
    assert all(line["time"].endswith("Z") for line in lines)
    assert result["original"]["delta"] == "AAAA"  # eliding copies


def test_the_connection_speaks_to_the_same_origin_with_browser_subprotocols(page: Page) -> None:
    result = run(
        page,
        """
        const { realtimeUrl, subprotocols } = await load("connection.js");
        return {
          plain: realtimeUrl({ protocol: "http:", host: "127.0.0.1:8788" }, "gpt-realtime"),
          secure: realtimeUrl({ protocol: "https:", host: "example.org" }, ""),
          ga: subprotocols({}),
          token: subprotocols({ token: "T1" }),
          beta: subprotocols({ token: "T1", beta: true }),
        };
        """,
    )
    assert result["plain"] == "ws://127.0.0.1:8788/v1/realtime?model=gpt-realtime"
    assert result["secure"] == "wss://example.org/v1/realtime"
    assert result["ga"] == ["realtime"]
    assert result["token"] == ["realtime", "openai-insecure-api-key.T1"]
    assert result["beta"] == ["realtime", "openai-insecure-api-key.T1", "openai-beta.realtime-v1"]
