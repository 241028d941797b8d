// Conversation items from server events, by the same rules as agent_rt's RealtimeConversation:
// items are placed by previous_item_id, deltas grow text/transcripts/arguments, done events give
// the final values, truncation and deletion update the list. `reduce` is pure; `ConversationView`
// renders a state into the DOM (one child per item, `data-role` user|assistant|system|tool).

const BETA_NAMES = {
  "response.text.delta": "response.output_text.delta",
  "response.text.done": "response.output_text.done",
  "response.audio.delta": "response.output_audio.delta",
  "response.audio.done": "response.output_audio.done",
  "response.audio_transcript.delta": "response.output_audio_transcript.delta",
  "response.audio_transcript.done": "response.output_audio_transcript.done",
  "conversation.item.created": "conversation.item.added",
};

/** The GA name of an event type (beta names are mapped, others unchanged). */
export function gaType(type) {
  return BETA_NAMES[type] ?? type;
}

export function emptyConversation() {
  return { order: [], items: {} };
}

function roleOf(item) {
  if (item.type === "function_call" || item.type === "function_call_output") return "tool";
  return item.role ?? "system";
}

function fromItem(raw) {
  const parts = Array.isArray(raw.content) ? raw.content : [];
  const text = parts
    .filter((p) => typeof p?.text === "string")
    .map((p) => p.text)
    .join("");
  const transcript = parts
    .filter((p) => typeof p?.transcript === "string")
    .map((p) => p.transcript)
    .join("");
  const entry = {
    id: raw.id,
    type: raw.type ?? "message",
    role: roleOf(raw),
    status: raw.status ?? null,
    text,
    transcript,
    audio: parts.some((p) => ["input_audio", "audio", "output_audio"].includes(p?.type)),
  };
  if (raw.type === "function_call") {
    Object.assign(entry, { name: raw.name ?? "", callId: raw.call_id ?? null, arguments: raw.arguments ?? "" });
  }
  if (raw.type === "function_call_output") Object.assign(entry, { callId: raw.call_id ?? null, output: raw.output ?? "" });
  return entry;
}

function merge(old, fresh) {
  if (!old) return fresh;
  const merged = { ...old, ...fresh };
  // A later snapshot may carry less than what the deltas built (e.g. after a truncation).
  for (const key of ["text", "transcript", "arguments", "output", "name"]) {
    if (!fresh[key] && old[key]) merged[key] = old[key];
  }
  merged.audio = old.audio || fresh.audio;
  if (old.truncated) Object.assign(merged, { truncated: true, audioEndMs: old.audioEndMs });
  if (old.outputs) merged.outputs = old.outputs;
  return merged;
}

function withItem(state, entry, previousId) {
  const items = { ...state.items, [entry.id]: merge(state.items[entry.id], entry) };
  if (state.items[entry.id]) return { order: state.order, items };
  const order = state.order.slice();
  if (previousId === null) order.unshift(entry.id);
  else {
    const at = previousId === undefined ? -1 : order.indexOf(previousId);
    if (at === -1) order.push(entry.id);
    else order.splice(at + 1, 0, entry.id);
  }
  return { order, items };
}

function update(state, id, change) {
  const old = state.items[id];
  if (!old) return state;
  return { order: state.order, items: { ...state.items, [id]: { ...old, ...change(old) } } };
}

/** The conversation after one server event (unknown events leave it unchanged). */
export function reduce(state, event) {
  const type = gaType(event.type);
  switch (type) {
    case "conversation.item.added":
    case "conversation.item.done":
    case "conversation.item.retrieved":
    case "response.output_item.added":
    case "response.output_item.done": {
      const raw = event.item;
      if (!raw || typeof raw.id !== "string") return state;
      const previous = "previous_item_id" in event ? event.previous_item_id : undefined;
      return withItem(state, fromItem(raw), previous);
    }
    case "response.output_text.delta":
      return update(state, event.item_id, (old) => ({ text: old.text + (event.delta ?? "") }));
    case "response.output_text.done":
      return update(state, event.item_id, (old) => ({ text: event.text ?? old.text }));
    case "response.output_audio_transcript.delta":
    case "conversation.item.input_audio_transcription.delta":
      return update(state, event.item_id, (old) => ({ transcript: old.transcript + (event.delta ?? "") }));
    case "response.output_audio_transcript.done":
      return update(state, event.item_id, (old) => ({ transcript: event.transcript ?? old.transcript }));
    case "conversation.item.input_audio_transcription.completed":
      return update(state, event.item_id, () => ({ transcript: event.transcript ?? "" }));
    case "conversation.item.input_audio_transcription.failed":
      return update(state, event.item_id, () => ({ transcriptionFailed: true }));
    case "response.function_call_arguments.delta":
      return update(state, event.item_id, (old) => ({ arguments: (old.arguments ?? "") + (event.delta ?? "") }));
    case "response.function_call_arguments.done":
      return update(state, event.item_id, (old) => ({ arguments: event.arguments ?? old.arguments }));
    case "conversation.item.truncated":
      return update(state, event.item_id, () => ({ truncated: true, audioEndMs: event.audio_end_ms }));
    case "conversation.item.deleted": {
      if (!state.items[event.item_id]) return state;
      const items = { ...state.items };
      delete items[event.item_id];
      return { order: state.order.filter((id) => id !== event.item_id), items };
    }
    default:
      return state;
  }
}

/** Items as shown: a function_call_output is folded into its call (when the call is known). */
export function visibleItems(state) {
  const calls = new Map();
  for (const id of state.order) {
    const item = state.items[id];
    if (item.type === "function_call" && item.callId) calls.set(item.callId, item);
  }
  const shown = [];
  const outputs = new Map();
  for (const id of state.order) {
    const item = state.items[id];
    if (item.type === "function_call_output" && calls.has(item.callId)) outputs.set(item.callId, item.output);
    else shown.push(item);
  }
  return shown.map((item) =>
    item.type === "function_call" && outputs.has(item.callId) ? { ...item, output: outputs.get(item.callId) } : item,
  );
}

/** The text a conversation entry shows (an assistant's is its transcript or its text). */
export function displayText(item) {
  if (item.type === "message") return item.transcript || item.text;
  return "";
}

function pretty(text) {
  try {
    return JSON.stringify(JSON.parse(text), null, 1);
  } catch {
    return text;
  }
}

export class ConversationView {
  constructor(list) {
    this.list = list;
    this.nodes = new Map();
  }

  render(state) {
    const items = visibleItems(state);
    const keep = new Set(items.map((item) => item.id));
    for (const [id, node] of this.nodes) {
      if (!keep.has(id)) {
        node.remove();
        this.nodes.delete(id);
      }
    }
    let previous = null;
    for (const item of items) {
      let node = this.nodes.get(item.id);
      if (!node) {
        node = this.list.ownerDocument.createElement("li");
        node.dataset.itemId = item.id;
        this.nodes.set(item.id, node);
      }
      this.fill(node, item);
      const want = previous ? previous.nextSibling : this.list.firstChild;
      if (want !== node) this.list.insertBefore(node, want);
      previous = node;
    }
    if (previous) previous.scrollIntoView?.({ block: "nearest" });
  }

  fill(node, item) {
    node.dataset.role = item.role;
    node.dataset.type = item.type;
    node.dataset.status = item.status ?? "";
    if (item.truncated) node.dataset.truncated = String(item.audioEndMs ?? "");
    else delete node.dataset.truncated;
    if (item.type === "message") {
      const text = displayText(item);
      if (node.textContent !== text) node.textContent = text;
      node.dataset.audio = item.audio ? "true" : "false";
      return;
    }
    const doc = node.ownerDocument;
    node.replaceChildren();
    const name = doc.createElement("code");
    name.className = "tool-name";
    if (item.type === "function_call") {
      name.textContent = `${item.name}(${item.arguments ?? ""})`;
      node.append(name);
      const output = doc.createElement("pre");
      output.className = "tool-output";
      output.textContent = item.output === undefined ? "…running" : pretty(item.output);
      if (item.output !== undefined) node.dataset.hasOutput = "true";
      node.append(output);
    } else {
      name.textContent = item.type === "function_call_output" ? `output ${item.callId ?? ""}` : item.type;
      node.append(name);
      if (item.output !== undefined) {
        const output = doc.createElement("pre");
        output.className = "tool-output";
        output.textContent = pretty(item.output);
        node.append(output);
      }
    }
  }
}
