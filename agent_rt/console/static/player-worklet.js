// AudioWorklet: plays the queued assistant audio and reports what was really played.
import { PlaybackQueue } from "./playback-queue.js";

const REPORT_EVERY = 2400; // samples between progress reports (100 ms at 24 kHz)

class PlaybackProcessor extends AudioWorkletProcessor {
  constructor() {
    super();
    this.queue = new PlaybackQueue();
    this.sinceReport = 0;
    this.wasPlaying = false;
    this.port.onmessage = (message) => this.onMessage(message.data);
  }

  onMessage(data) {
    if (data.type === "push") {
      this.queue.push(data.itemId, data.contentIndex, data.samples);
    } else if (data.type === "stop") {
      const stopped = this.queue.stop();
      this.wasPlaying = false;
      this.port.postMessage({ type: "stopped", token: data.token, stopped });
    }
  }

  process(inputs, outputs) {
    const channel = outputs[0][0];
    const played = this.queue.render(channel);
    for (let c = 1; c < outputs[0].length; c += 1) outputs[0][c].set(channel);
    this.sinceReport += played;
    const playing = this.queue.chunks.length > 0;
    if (this.sinceReport >= REPORT_EVERY || (this.wasPlaying && !playing)) {
      this.sinceReport = 0;
      const current = this.queue.current;
      this.port.postMessage({
        type: "progress",
        itemId: current ? current.itemId : null,
        played: current ? this.queue.playedFor(current.itemId) : 0,
        queued: this.queue.queued,
      });
    }
    this.wasPlaying = playing;
    return true;
  }
}

registerProcessor("playback-queue", PlaybackProcessor);
