// Microphone capture: getUserMedia -> AudioWorklet (resample to 24 kHz PCM16) -> frames.
import { pcm16ToBase64 } from "./pcm.js";

export const FRAME_MS = 40;

export class Microphone {
  /** `onFrame(base64Pcm16, samples)` is called for every FRAME_MS of captured audio. */
  constructor(onFrame) {
    this.onFrame = onFrame;
    this.context = null;
    this.stream = null;
    this.node = null;
    this.analyser = null;
    this.starting = null;
    this.muted = false; // push-to-talk: capture runs, frames are dropped until the button is held
  }

  get active() {
    return this.context !== null;
  }

  /** Start capturing (a second call while starting waits for the first). */
  start() {
    if (!this.starting) this.starting = this._start().finally(() => (this.starting = null));
    return this.starting;
  }

  async _start() {
    if (this.context) return;
    const stream = await navigator.mediaDevices.getUserMedia({
      audio: { channelCount: 1, echoCancellation: true, noiseSuppression: true, autoGainControl: true },
    });
    const context = new AudioContext();
    try {
      await context.audioWorklet.addModule(new URL("./mic-worklet.js", import.meta.url));
      const source = context.createMediaStreamSource(stream);
      const node = new AudioWorkletNode(context, "mic-capture", {
        numberOfInputs: 1,
        numberOfOutputs: 0,
        channelCount: 1,
        channelCountMode: "explicit",
        processorOptions: { frameMs: FRAME_MS },
      });
      node.port.onmessage = (message) => {
        if (!this.muted) this.onFrame(pcm16ToBase64(message.data), message.data);
      };
      const analyser = context.createAnalyser();
      analyser.fftSize = 2048;
      source.connect(node);
      source.connect(analyser);
      if (context.state === "suspended") await context.resume();
      Object.assign(this, { context, stream, node, analyser });
    } catch (error) {
      stream.getTracks().forEach((track) => track.stop());
      await context.close();
      throw error;
    }
  }

  async stop() {
    if (this.starting) await this.starting.catch(() => {}); // stop what a pending start opens
    const { context, stream, node } = this;
    this.context = this.stream = this.node = this.analyser = null;
    if (node) node.port.onmessage = null;
    if (stream) stream.getTracks().forEach((track) => track.stop());
    if (context) await context.close();
  }
}
