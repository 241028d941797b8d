// The event inspector: every client and server event with time, direction and type; filterable;
// JSON shown on demand with audio payloads elided; the session log exported as JSON lines.

const MAX_ROWS = 4000; // rows kept in the page; the export keeps up to MAX_LOG entries
const MAX_LOG = 100000;

function elidedAudio(value) {
  const bytes = typeof value === "string" ? Math.floor((value.length * 3) / 4) : 0;
  return `<audio: ${bytes} bytes elided>`;
}

/** A copy of `event` with base64 audio replaced by a short placeholder. */
export function elide(event) {
  const copy = structuredClone(event);
  if (typeof copy.audio === "string") copy.audio = elidedAudio(copy.audio);
  if (/audio\.delta$/.test(copy.type ?? "") && typeof copy.delta === "string") copy.delta = elidedAudio(copy.delta);
  const content = copy.item?.content;
  if (Array.isArray(content)) {
    for (const part of content) if (part && typeof part.audio === "string") part.audio = elidedAudio(part.audio);
  }
  return copy;
}

function clock(ms) {
  const date = new Date(ms);
  const pad = (n, w = 2) => String(n).padStart(w, "0");
  return `${pad(date.getHours())}:${pad(date.getMinutes())}:${pad(date.getSeconds())}.${pad(date.getMilliseconds(), 3)}`;
}

export class Inspector {
  constructor(list, { filterInput = null, directionSelect = null } = {}) {
    this.list = list;
    this.entries = [];
    this.filterInput = filterInput;
    this.directionSelect = directionSelect;
    filterInput?.addEventListener("input", () => this.applyFilter());
    directionSelect?.addEventListener("change", () => this.applyFilter());
  }

  /** Record one event ("client" or "server"). */
  log(direction, event) {
    const entry = { time: Date.now(), direction, event: elide(event) };
    this.entries.push(entry);
    if (this.entries.length > MAX_LOG) this.entries.shift();
    this.list.append(this.row(entry));
    while (this.list.childElementCount > MAX_ROWS) this.list.firstElementChild.remove();
    const pane = this.list.parentElement;
    if (pane && pane.scrollHeight - pane.scrollTop - pane.clientHeight < 80) pane.scrollTop = pane.scrollHeight;
  }

  row(entry) {
    const doc = this.list.ownerDocument;
    const li = doc.createElement("li");
    li.dataset.type = entry.event.type;
    li.dataset.direction = entry.direction;
    li.hidden = !this.matches(entry);
    const details = doc.createElement("details");
    const summary = doc.createElement("summary");
    const time = doc.createElement("time");
    time.dateTime = new Date(entry.time).toISOString();
    time.textContent = clock(entry.time);
    const arrow = doc.createElement("span");
    arrow.className = "direction";
    arrow.textContent = entry.direction === "client" ? "↑ client" : "↓ server";
    const type = doc.createElement("span");
    type.className = "type";
    type.textContent = entry.event.type;
    summary.append(time, arrow, type);
    details.append(summary);
    details.addEventListener("toggle", () => {
      if (details.open && !details.querySelector("pre")) {
        const pre = doc.createElement("pre");
        pre.textContent = JSON.stringify(entry.event, null, 2);
        details.append(pre);
      }
    });
    li.append(details);
    return li;
  }

  matches(entry) {
    const text = (this.filterInput?.value ?? "").trim().toLowerCase();
    const direction = this.directionSelect?.value ?? "all";
    if (direction !== "all" && entry.direction !== direction) return false;
    return !text || entry.event.type.toLowerCase().includes(text);
  }

  applyFilter() {
    const rows = Array.from(this.list.children);
    const offset = this.entries.length - rows.length;
    rows.forEach((row, index) => {
      row.hidden = !this.matches(this.entries[offset + index]);
    });
  }

  /** The session log, one JSON object per line: {time, direction, event}. */
  exportLines() {
    return this.entries
      .map((e) => JSON.stringify({ time: new Date(e.time).toISOString(), direction: e.direction, event: e.event }))
      .join("\n");
  }

  download() {
    const blob = new Blob([this.exportLines() + "\n"], { type: "application/x-ndjson" });
    const link = this.list.ownerDocument.createElement("a");
    link.href = URL.createObjectURL(blob);
    link.download = `agent-rt-session-${new Date().toISOString().replace(/[:.]/g, "-")}.jsonl`;
    link.click();
    setTimeout(() => URL.revokeObjectURL(link.href), 1000);
  }

  clear() {
    this.entries = [];
    this.list.replaceChildren();
  }
}
