// The WebSocket to the relay, the browser way: same-origin /v1/realtime, the token (if any) in
// the `openai-insecure-api-key.<token>` subprotocol, GA unless the beta shape is asked for.

export function realtimeUrl(location, model) {
  const scheme = location.protocol === "https:" ? "wss:" : "ws:";
  const query = model ? `?model=${encodeURIComponent(model)}` : "";
  return `${scheme}//${location.host}/v1/realtime${query}`;
}

export function subprotocols({ token = "", beta = false } = {}) {
  const protocols = ["realtime"];
  if (token) protocols.push(`openai-insecure-api-key.${token}`);
  if (beta) protocols.push("openai-beta.realtime-v1");
  return protocols;
}

let counter = 0;
function eventId() {
  counter += 1;
  return `evt_console_${Date.now().toString(36)}_${counter}`;
}

export class Connection {
  /**
   * Callbacks: onOpen(), onClose({code, reason}), onEvent(direction, event) for every event
   * sent ("client") or received ("server"), onError(message).
   */
  constructor({ onOpen, onClose, onEvent, onError }) {
    Object.assign(this, { onOpen, onClose, onEvent, onError });
    this.socket = null;
    this.pending = []; // events sent while the socket was still opening, in order
  }

  get open() {
    return this.socket !== null && this.socket.readyState === WebSocket.OPEN;
  }

  /** Open, or opening (events sent now go out once it is open). */
  get ready() {
    return this.socket !== null && this.socket.readyState <= WebSocket.OPEN;
  }

  connect({ url, token = "", beta = false }) {
    if (this.socket) throw new Error("already connected");
    const socket = new WebSocket(url, subprotocols({ token, beta }));
    this.socket = socket;
    socket.onopen = () => {
      this.onOpen(); // may send the session first
      const queued = this.pending;
      this.pending = [];
      for (const event of queued) this.send(event);
    };
    socket.onmessage = (message) => {
      let event;
      try {
        event = JSON.parse(message.data);
      } catch {
        this.onError("the server sent a frame that is not JSON");
        return;
      }
      if (event && typeof event === "object" && typeof event.type === "string") this.onEvent("server", event);
      else this.onError("the server sent an event without a type");
    };
    socket.onclose = (close) => {
      if (this.socket === socket) {
        this.socket = null;
        this.pending = [];
      }
      this.onClose({ code: close.code, reason: close.reason });
    };
  }

  /** Send a client event (an `event_id` is added); queued while opening; false when not connected. */
  send(event) {
    if (this.ready && !this.open) {
      this.pending.push(event);
      return true;
    }
    if (!this.open) return false;
    const withId = { event_id: eventId(), ...event };
    this.socket.send(JSON.stringify(withId));
    this.onEvent("client", withId);
    return true;
  }

  close() {
    if (this.socket) this.socket.close(1000, "closed by the user");
  }
}
