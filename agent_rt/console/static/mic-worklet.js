// AudioWorklet: microphone capture -> 24 kHz PCM16 frames of `frameMs` posted to the page.
import { API_RATE, FrameChunker, Resampler, floatToPcm16 } from "./pcm.js";

class MicCaptureProcessor extends AudioWorkletProcessor {
  constructor(options) {
    super();
    const frameMs = options.processorOptions?.frameMs ?? 40;
    this.resampler = new Resampler(sampleRate, API_RATE);
    this.chunker = new FrameChunker(Math.round((API_RATE * frameMs) / 1000));
  }

  process(inputs) {
    const input = inputs[0];
    if (input && input.length) {
      const pcm = floatToPcm16(this.resampler.process(input[0]));
      for (const frame of this.chunker.push(pcm)) this.port.postMessage(frame, [frame.buffer]);
    }
    return true;
  }
}

registerProcessor("mic-capture", MicCaptureProcessor);
