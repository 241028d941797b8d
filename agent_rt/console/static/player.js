// Playback of the assistant's audio: a 24 kHz AudioContext, a worklet queue that counts the
// samples actually played, an analyser for the waveform, and an immediate stop for barge-in.
import { API_RATE, base64ToPcm16, pcm16ToFloat, samplesToMs } from "./pcm.js";

export class Player {
  constructor() {
    this.context = null;
    this.node = null;
    this.gain = null;
    this.analyser = null;
    this.progress = { itemId: null, played: 0, queued: 0 };
    this.cut = new Set(); // items interrupted: their late deltas are not played
    this.lastPushed = null; // the item whose audio was queued last
    this.pendingStops = new Map();
    this.nextToken = 1;
    this.backlog = null; // pushes waiting while start() builds the graph
  }

  /** Create the audio graph; call from a user gesture (autoplay policy). Audio pushed meanwhile waits. */
  async start() {
    if (this.context || this.backlog) return;
    this.backlog = [];
    const context = new AudioContext({ sampleRate: API_RATE, latencyHint: "interactive" });
    await context.audioWorklet.addModule(new URL("./player-worklet.js", import.meta.url));
    const node = new AudioWorkletNode(context, "playback-queue", { numberOfInputs: 0, outputChannelCount: [1] });
    const gain = context.createGain();
    const analyser = context.createAnalyser();
    analyser.fftSize = 2048;
    node.connect(gain).connect(analyser).connect(context.destination);
    node.port.onmessage = (message) => this.onWorkletMessage(message.data);
    if (context.state === "suspended") await context.resume();
    Object.assign(this, { context, node, gain, analyser });
    const backlog = this.backlog ?? [];
    this.backlog = null;
    for (const args of backlog) this.push(...args);
  }

  async close() {
    this.backlog = null;
    const context = this.context;
    this.context = this.node = this.gain = this.analyser = null;
    for (const resolve of this.pendingStops.values()) resolve(null);
    this.pendingStops.clear();
    this.cut.clear();
    if (context) await context.close();
  }

  onWorkletMessage(data) {
    if (data.type === "progress") {
      this.progress = { itemId: data.itemId, played: data.played, queued: data.queued };
    } else if (data.type === "stopped") {
      const resolve = this.pendingStops.get(data.token);
      this.pendingStops.delete(data.token);
      if (resolve) resolve(data.stopped);
    }
  }

  /** Queue one base64 PCM16 delta of an assistant item. */
  push(itemId, contentIndex, base64) {
    if (this.backlog && !this.node) {
      this.backlog.push([itemId, contentIndex, base64]); // the audio graph is still being built
      return;
    }
    if (!this.node || this.cut.has(itemId)) return;
    const samples = pcm16ToFloat(base64ToPcm16(base64));
    this.lastPushed = itemId;
    this.node.port.postMessage({ type: "push", itemId, contentIndex, samples }, [samples.buffer]);
    this.progress = { ...this.progress, queued: this.progress.queued + samples.length };
    if (this.gain) this.gain.gain.value = 1;
  }

  /** True while audio is queued or playing (as last reported, plus what was pushed since). */
  get busy() {
    return this.progress.queued > 0;
  }

  /**
   * Stop at once (the output is muted now; the queue is dropped on the audio thread). Resolves to
   * `{itemId, contentIndex, played, dropped, audioEndMs}` for the interrupted item, or null.
   * `audioEndMs` is what the listener really heard: played samples minus those still in the
   * output pipeline (the context's output latency).
   */
  stop() {
    if (!this.node) return Promise.resolve(null);
    if (this.gain) this.gain.gain.value = 0;
    if (this.lastPushed !== null) this.cut.add(this.lastPushed); // its late deltas stay silent
    const token = this.nextToken++;
    const latency = Math.round(((this.context.outputLatency || 0) + (this.context.baseLatency || 0)) * API_RATE);
    const done = new Promise((resolve) => this.pendingStops.set(token, resolve)).then((stopped) => {
      if (!stopped) return null;
      this.cut.add(stopped.itemId);
      this.progress = { itemId: stopped.itemId, played: stopped.played, queued: 0 };
      const heard = Math.max(0, stopped.played - latency);
      return { ...stopped, heard, audioEndMs: samplesToMs(heard) };
    });
    this.node.port.postMessage({ type: "stop", token });
    return done;
  }
}
