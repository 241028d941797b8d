// Wires the page: connection, session panel, conversation, microphone, playback with barge-in,
// and the inspector. State the tests may read is on `window.agentConsole`.
import { Connection, realtimeUrl } from "./connection.js";
import { ConversationView, emptyConversation, gaType, reduce } from "./conversation.js";
import { Inspector } from "./inspector.js";
import { Microphone } from "./mic.js";
import { API_RATE } from "./pcm.js";
import { Player } from "./player.js";
import { Waveform } from "./waveform.js";

const $ = (id) => document.getElementById(id);

const ui = {
  connect: $("connect"), status: $("status"), model: $("model"), token: $("token"), beta: $("beta"),
  text: $("text-input"), send: $("send"), mic: $("mic"), ptt: $("ptt"),
  instructions: $("instructions"), voice: $("voice"), turnDetection: $("turn-detection"),
  transcription: $("transcription"), applySession: $("apply-session"), notice: $("notice"),
};

const inspector = new Inspector($("event-log"), { filterInput: $("event-filter"), directionSelect: $("event-direction") });
const view = new ConversationView($("conversation"));
const player = new Player();
const micWave = new Waveform($("mic-wave"));
const playWave = new Waveform($("play-wave"));

const state = {
  conversation: emptyConversation(),
  phase: "offline", // offline | connecting | connected | closed
  beta: false,
  responseId: null, // the response in progress (response.created .. response.done)
  serverInterrupts: false, // the server's VAD cancels responses on speech_started (session config)
  delivered: {}, // itemId -> audio samples received
  audioDone: new Set(), // items whose audio the server has finished sending
  truncations: [], // {itemId, audioEndMs, played, heard, deliveredSamples}
};

const mic = new Microphone((base64) => connection.send({ type: "input_audio_buffer.append", audio: base64 }));

const connection = new Connection({
  onOpen() {
    sendSession();
    setPhase("connected");
  },
  onClose({ code, reason }) {
    setPhase("closed", code ? ` (${code}${reason ? `: ${reason}` : ""})` : "");
    teardown();
  },
  onEvent(direction, event) {
    inspector.log(direction, event);
    if (direction === "server") onServerEvent(event);
  },
  onError(message) {
    notify(message);
  },
});

/** Show a problem without touching the connection status (empty: hide the notice). */
function notify(message = "") {
  ui.notice.textContent = message;
  ui.notice.hidden = !message;
}

function setPhase(phase, detail = "") {
  state.phase = phase;
  const live = phase === "connected" || phase === "connecting"; // sent once open
  ui.status.textContent = { offline: "offline", connecting: "connecting…", connected: "connected", closed: "closed" }[phase] + detail;
  ui.status.dataset.phase = phase;
  ui.connect.textContent = phase === "connected" || phase === "connecting" ? "Disconnect" : "Connect";
  for (const control of [ui.text, ui.send, ui.mic, ui.applySession, ui.ptt]) control.disabled = !live;
}

function sessionPatch() {
  const pushToTalk = ui.turnDetection.value === "push_to_talk";
  const turnDetection = pushToTalk ? null : { type: "server_vad" };
  const transcription = ui.transcription.value ? { model: ui.transcription.value } : null;
  const instructions = ui.instructions.value.trim();
  if (state.beta) {
    return {
      ...(instructions ? { instructions } : {}),
      voice: ui.voice.value,
      turn_detection: turnDetection,
      input_audio_transcription: transcription,
    };
  }
  return {
    type: "realtime",
    ...(instructions ? { instructions } : {}),
    audio: { input: { turn_detection: turnDetection, transcription }, output: { voice: ui.voice.value } },
  };
}

function sendSession() {
  connection.send({ type: "session.update", session: sessionPatch() });
  const pushToTalk = ui.turnDetection.value === "push_to_talk";
  ui.ptt.hidden = !pushToTalk;
  mic.muted = pushToTalk && !pttHeld;
}

async function onServerEvent(event) {
  state.conversation = reduce(state.conversation, event);
  view.render(state.conversation);
  switch (gaType(event.type)) {
    case "response.created":
      state.responseId = event.response?.id ?? "unknown";
      break;
    case "response.done":
      if (!event.response?.id || event.response.id === state.responseId) state.responseId = null;
      break;
    case "response.output_audio.delta":
      if (typeof event.delta !== "string") break;
      state.delivered[event.item_id] = (state.delivered[event.item_id] ?? 0) + pcm16Samples(event.delta);
      player.push(event.item_id, event.content_index ?? 0, event.delta);
      break;
    case "response.output_audio.done":
      state.audioDone.add(event.item_id);
      break;
    case "input_audio_buffer.speech_started":
      await bargeIn({ serverCancels: state.serverInterrupts });
      break;
    case "error":
      notify(`Server error: ${event.error?.message ?? "no message"}`);
      break;
    case "session.created":
    case "session.updated":
      state.serverInterrupts = interruptsResponses(event.session);
      break;
    default:
      break;
  }
}

/** Whether the session's turn detection cancels a response by itself when speech starts. */
function interruptsResponses(session) {
  const detection = session?.audio?.input?.turn_detection ?? session?.turn_detection ?? null;
  return detection !== null && typeof detection === "object" && detection.interrupt_response !== false;
}

/** Samples in a base64 PCM16 payload (without decoding it). */
function pcm16Samples(base64) {
  const padding = base64.endsWith("==") ? 2 : base64.endsWith("=") ? 1 : 0;
  return Math.floor(((base64.length * 3) / 4 - padding) / 2);
}

/** The user spoke: silence the assistant now, cancel its response, truncate what was not heard. */
async function bargeIn({ serverCancels = false } = {}) {
  // A server VAD with interrupt_response (the default) cancels the response itself when it sends
  // speech_started; a second cancel from here would only earn an error event.
  if (state.responseId !== null && !serverCancels) connection.send({ type: "response.cancel" });
  const stopped = await player.stop(); // muted at once; resolves when the worklet dropped its queue
  // Cut short: audio was still queued, or more was still to come (paced audio can leave the queue
  // empty between deltas). An item heard to its end stays whole.
  if (!stopped || (stopped.dropped === 0 && state.audioDone.has(stopped.itemId))) return;
  connection.send({
    type: "conversation.item.truncate",
    item_id: stopped.itemId,
    content_index: stopped.contentIndex,
    audio_end_ms: stopped.audioEndMs,
  });
  state.truncations.push({
    itemId: stopped.itemId,
    audioEndMs: stopped.audioEndMs,
    played: stopped.played,
    heard: stopped.heard,
    deliveredSamples: state.delivered[stopped.itemId] ?? 0,
  });
}

async function connect() {
  notify();
  state.beta = ui.beta.checked;
  state.conversation = emptyConversation();
  view.render(state.conversation);
  setPhase("connecting");
  try {
    const url = realtimeUrl(window.location, ui.model.value.trim());
    connection.connect({ url, token: ui.token.value.trim(), beta: state.beta });
    await player.start(); // inside the click: the autoplay policy allows audio
    if (state.phase === "closed") player.close(); // refused while the audio graph was being built
    else playWave.attach(player.analyser);
  } catch (error) {
    connection.close();
    setPhase("closed", `: ${error.message}`);
    teardown();
  }
}

function teardown() {
  state.responseId = null;
  stopMic();
  playWave.stop();
  player.close();
}

async function startMic() {
  try {
    await mic.start();
    micWave.attach(mic.analyser);
    ui.mic.setAttribute("aria-pressed", "true");
    ui.mic.textContent = "Stop microphone";
  } catch (error) {
    notify(`Microphone: ${error.message}`);
  }
}

function stopMic() {
  mic.stop();
  micWave.stop();
  ui.mic.setAttribute("aria-pressed", "false");
  ui.mic.textContent = "Start microphone";
}

let pttHeld = false;
function pushToTalk(down) {
  if (down === pttHeld || !connection.ready) return;
  pttHeld = down;
  ui.ptt.setAttribute("aria-pressed", String(down));
  if (down) {
    bargeIn();
    connection.send({ type: "input_audio_buffer.clear" });
    if (!mic.active) startMic();
    mic.muted = false;
  } else {
    mic.muted = true;
    connection.send({ type: "input_audio_buffer.commit" });
    connection.send({ type: "response.create" });
  }
}

ui.connect.closest("form").addEventListener("submit", (event) => {
  event.preventDefault();
  if (state.phase === "connected" || state.phase === "connecting") connection.close();
  else connect();
});

$("message-form").addEventListener("submit", (event) => {
  event.preventDefault();
  const text = ui.text.value.trim();
  if (!text || !connection.ready) return;
  bargeIn();
  connection.send({
    type: "conversation.item.create",
    item: { type: "message", role: "user", content: [{ type: "input_text", text }] },
  });
  connection.send({ type: "response.create" });
  ui.text.value = "";
});

ui.mic.addEventListener("click", () => (mic.active ? stopMic() : startMic()));
ui.ptt.addEventListener("pointerdown", () => pushToTalk(true));
ui.ptt.addEventListener("pointerup", () => pushToTalk(false));
ui.ptt.addEventListener("pointerleave", () => pushToTalk(false));
ui.ptt.addEventListener("keydown", (event) => {
  if ((event.key === " " || event.key === "Enter") && !event.repeat) {
    event.preventDefault();
    pushToTalk(true);
  }
});
ui.ptt.addEventListener("keyup", (event) => {
  if (event.key === " " || event.key === "Enter") pushToTalk(false);
});

$("session-form").addEventListener("submit", (event) => {
  event.preventDefault();
  sendSession();
});
$("export").addEventListener("click", () => inspector.download());
$("clear-log").addEventListener("click", () => inspector.clear());

setPhase("offline");
micWave.stop(); // draw the idle (flat) lines
playWave.stop();
window.agentConsole = { state, player, inspector, connection, mic, API_RATE };
